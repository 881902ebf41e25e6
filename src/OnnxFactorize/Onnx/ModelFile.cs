using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Onnx;

/// <summary>Reads and writes a model file without holding its weights in memory. On load, the raw_data of every large
/// initializer of the main graph is left in the file: the tensor becomes a reference to its own bytes inside the .onnx
/// file (ONNX external-data fields whose location is the model file itself), read only when a pass needs it. On save,
/// such tensors are written back inline, their bytes streamed from the source file, so a load and save of an unchanged
/// model gives the same bytes as before. The protobuf wire format is walked by hand only down to ModelProto.graph →
/// GraphProto.initializer → TensorProto.raw_data (fields 7, 5, 9 of onnx.proto); everything else is parsed by protobuf.</summary>
internal static class ModelFile
{
    /// <summary>raw_data of at least this many bytes stays in the file until read.</summary>
    public const int LazyThreshold = 4096;

    private const int GraphField = 7;
    private const int InitializerField = 5;
    private const int RawDataField = 9;
    private const int ExternalDataField = 13;
    private const int DataLocationField = 14;
    private const int LengthDelimited = 2;

    /// <summary>Parses the model at <paramref name="path"/> with its large initializers left in the file (see the type's
    /// summary), or null when the file's layout is not the plain one this reader walks (protobuf then parses it whole).</summary>
    public static ModelProto? ParseLazy(string path, long length)
    {
        var location = Path.GetFileName(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var reader = new Reader(file, length);
        var model = new MemoryStream();
        var lazyCount = 0;
        while (reader.Position < length)
        {
            var start = reader.Position;
            if (!reader.TryTag(out var field, out var wire))
            {
                return null;
            }

            if (field != GraphField || wire != LengthDelimited)
            {
                if (!reader.TrySkip(wire))
                {
                    return null;
                }

                reader.CopyRange(start, reader.Position, model);
                continue;
            }

            if (!reader.TryLength(out var graphLength))
            {
                return null;
            }

            var graphEnd = reader.Position + graphLength;
            var graph = new MemoryStream();
            while (reader.Position < graphEnd)
            {
                var fieldStart = reader.Position;
                if (!reader.TryTag(out var gField, out var gWire))
                {
                    return null;
                }

                if (gField == InitializerField && gWire == LengthDelimited)
                {
                    if (!reader.TryLength(out var tensorLength) || reader.Position + tensorLength > graphEnd)
                    {
                        return null;
                    }

                    var tensor = ReadTensor(reader, reader.Position + tensorLength, location, ref lazyCount);
                    if (tensor is null)
                    {
                        return null;
                    }

                    WriteField(graph, InitializerField, tensor);
                    continue;
                }

                if (!reader.TrySkip(gWire) || reader.Position > graphEnd)
                {
                    return null;
                }

                reader.CopyRange(fieldStart, reader.Position, graph);
            }

            if (reader.Position != graphEnd)
            {
                return null;
            }

            WriteField(model, GraphField, graph.ToArray());
        }

        // Nothing large: protobuf's own parse of the same bytes is just as good (and keeps every message untouched).
        return lazyCount == 0 ? null : ModelProto.Parser.ParseFrom(model.GetBuffer(), 0, (int)model.Length);
    }

    /// <summary>Writes <paramref name="model"/> to <paramref name="output"/>, each main-graph initializer listed in
    /// <paramref name="inline"/> (by index) written inline with its bytes streamed from its range.</summary>
    public static void WriteInline(ModelProto model, IReadOnlyDictionary<int, ExternalRange> inline, Stream output, string modelName)
    {
        if (inline.Count == 0)
        {
            model.WriteTo(output);
            return;
        }

        var initializers = model.Graph.Initializer;
        var parts = new Dictionary<int, (byte[] Head, byte[] Tail, ExternalRange Range, long Size)>();
        foreach (var (index, range) in inline)
        {
            var (head, tail) = Split(initializers[index]);
            var size = head.Length + 1 + LengthSize(range.Length) + range.Length + tail.Length;
            parts[index] = (head, tail, range, size);
        }

        // The model with these tensors still as references is small; walk its bytes, expanding them on the way out.
        var small = model.ToByteArray();
        using var source = new MemoryStream(small, writable: false);
        var reader = new Reader(source, small.Length);
        while (reader.Position < small.Length)
        {
            var start = reader.Position;
            reader.TryTag(out var field, out var wire);
            if (field != GraphField || wire != LengthDelimited)
            {
                reader.TrySkip(wire);
                output.Write(small, (int)start, (int)(reader.Position - start));
                continue;
            }

            reader.TryLength(out var graphLength);
            var graphStart = reader.Position;
            var graphEnd = graphStart + graphLength;

            // First pass: the graph's new length.
            var newLength = graphLength;
            var index = 0;
            while (reader.Position < graphEnd)
            {
                var fieldStart = reader.Position;
                reader.TryTag(out var gField, out var gWire);
                reader.TrySkip(gWire);
                if (gField == InitializerField && gWire == LengthDelimited)
                {
                    if (parts.TryGetValue(index, out var part))
                    {
                        newLength += 1 + LengthSize(part.Size) + part.Size - (reader.Position - fieldStart);
                    }

                    index++;
                }
            }

            WriteTag(output, GraphField);
            WriteVarint(output, (ulong)newLength);
            reader.Seek(graphStart);
            index = 0;
            while (reader.Position < graphEnd)
            {
                var fieldStart = reader.Position;
                reader.TryTag(out var gField, out var gWire);
                reader.TrySkip(gWire);
                var isInitializer = gField == InitializerField && gWire == LengthDelimited;
                if (isInitializer && parts.TryGetValue(index, out var part))
                {
                    WriteTag(output, InitializerField);
                    WriteVarint(output, (ulong)part.Size);
                    output.Write(part.Head);
                    WriteTag(output, RawDataField);
                    WriteVarint(output, (ulong)part.Range.Length);
                    part.Range.CopyTo(output, initializers[index].Name, modelName);
                    output.Write(part.Tail);
                }
                else
                {
                    output.Write(small, (int)fieldStart, (int)(reader.Position - fieldStart));
                }

                if (isInitializer)
                {
                    index++;
                }
            }
        }
    }

    // The tensor's fields before raw_data (1–8) and after it (10+, unknown fields last), as protobuf orders them, with
    // the external-data reference removed: head + raw_data + tail is what the inline tensor serializes to.
    private static (byte[] Head, byte[] Tail) Split(TensorProto tensor)
    {
        var head = new TensorProto();
        head.Dims.AddRange(tensor.Dims);
        if (tensor.HasDataType)
        {
            head.DataType = tensor.DataType;
        }

        head.Segment = tensor.Segment;
        head.FloatData.AddRange(tensor.FloatData);
        head.Int32Data.AddRange(tensor.Int32Data);
        head.StringData.AddRange(tensor.StringData);
        head.Int64Data.AddRange(tensor.Int64Data);
        if (tensor.HasName)
        {
            head.Name = tensor.Name;
        }

        var tail = tensor.Clone();
        tail.Dims.Clear();
        tail.ClearDataType();
        tail.Segment = null;
        tail.FloatData.Clear();
        tail.Int32Data.Clear();
        tail.StringData.Clear();
        tail.Int64Data.Clear();
        tail.ClearName();
        tail.ClearRawData();
        tail.ExternalData.Clear();
        tail.ClearDataLocation();
        return (head.ToByteArray(), tail.ToByteArray());
    }

    // One TensorProto: its fields copied, except a single large raw_data, which is replaced by a reference to its bytes
    // in this file. A tensor that already has external-data fields, or raw_data twice, is copied as it is.
    private static byte[]? ReadTensor(Reader reader, long end, string location, ref int lazyCount)
    {
        var fields = new List<(int Field, long Start, long End)>();
        long rawOffset = -1, rawLength = 0;
        var rawCount = 0;
        var hasExternal = false;
        while (reader.Position < end)
        {
            var start = reader.Position;
            if (!reader.TryTag(out var field, out var wire))
            {
                return null;
            }

            if (field == RawDataField && wire == LengthDelimited)
            {
                if (!reader.TryLength(out rawLength))
                {
                    return null;
                }

                rawOffset = reader.Position;
                rawCount++;
                reader.Seek(rawOffset + rawLength);
            }
            else if (!reader.TrySkip(wire))
            {
                return null;
            }

            hasExternal |= field is ExternalDataField or DataLocationField;
            fields.Add((field, start, reader.Position));
        }

        if (reader.Position != end)
        {
            return null;
        }

        var lazy = rawCount == 1 && !hasExternal && rawLength >= LazyThreshold;
        var tensor = new MemoryStream();
        foreach (var (field, start, fieldEnd) in fields)
        {
            if (!(lazy && field == RawDataField))
            {
                reader.CopyRange(start, fieldEnd, tensor);
            }
        }

        reader.Seek(end);
        if (!lazy)
        {
            return tensor.ToArray();
        }

        lazyCount++;
        var reference = new TensorProto { DataLocation = TensorProto.Types.DataLocation.External };
        reference.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        reference.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = rawOffset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        reference.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = rawLength.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        reference.WriteTo(tensor);
        return tensor.ToArray();
    }

    private static int LengthSize(long length)
    {
        var value = (ulong)length;
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private static void WriteField(Stream output, int field, byte[] payload)
    {
        WriteTag(output, field);
        WriteVarint(output, (ulong)payload.Length);
        output.Write(payload);
    }

    private static void WriteField(Stream output, int field, MemoryStream payload)
    {
        WriteTag(output, field);
        WriteVarint(output, (ulong)payload.Length);
        output.Write(payload.GetBuffer(), 0, (int)payload.Length);
    }

    private static void WriteTag(Stream output, int field) => WriteVarint(output, ((ulong)field << 3) | LengthDelimited);

    private static void WriteVarint(Stream output, ulong value)
    {
        while (value >= 0x80)
        {
            output.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        output.WriteByte((byte)value);
    }

    /// <summary>Protobuf wire-format steps over a seekable stream; every Try… returns false on malformed input.</summary>
    private sealed class Reader(Stream stream, long length)
    {
        private readonly byte[] _copy = new byte[1 << 16];

        public long Position => stream.Position;

        public void Seek(long position) => stream.Position = position;

        public bool TryTag(out int field, out int wire)
        {
            field = 0;
            wire = 0;
            if (!TryVarint(out var tag) || tag >> 3 is 0 or > int.MaxValue)
            {
                return false;
            }

            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            return true;
        }

        public bool TryLength(out long value)
        {
            value = 0;
            if (!TryVarint(out var v) || v > (ulong)(length - stream.Position))
            {
                return false;
            }

            value = (long)v;
            return true;
        }

        public bool TrySkip(int wire)
        {
            long skip;
            switch (wire)
            {
                case 0:
                    return TryVarint(out _);
                case 1:
                    skip = 8;
                    break;
                case 2:
                    if (!TryLength(out skip))
                    {
                        return false;
                    }

                    break;
                case 5:
                    skip = 4;
                    break;
                default:
                    return false; // groups (3, 4) are not used by onnx.proto
            }

            if (skip > length - stream.Position)
            {
                return false;
            }

            stream.Position += skip;
            return true;
        }

        public void CopyRange(long start, long end, Stream destination)
        {
            var back = stream.Position;
            stream.Position = start;
            var left = end - start;
            while (left > 0)
            {
                var n = stream.Read(_copy, 0, (int)Math.Min(_copy.Length, left));
                if (n == 0)
                {
                    throw new EndOfStreamException();
                }

                destination.Write(_copy, 0, n);
                left -= n;
            }

            stream.Position = back;
        }

        private bool TryVarint(out ulong value)
        {
            value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = stream.ReadByte();
                if (b < 0)
                {
                    return false;
                }

                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
