using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Onnx;

/// <summary>Reads and lays out tensor data stored outside the model file, following ONNX's external-data convention
/// (TensorProto.data_location = EXTERNAL with <c>location</c>, <c>offset</c>, <c>length</c> entries, paths relative to the
/// model's folder).</summary>
public static class ExternalData
{
    /// <summary>Offsets of tensors in a written data file are multiples of this (4 KiB, the page size ONNX aligns to).</summary>
    public const int Alignment = 4096;

    /// <summary>Tensors at least this large move to the data file when a model is saved with external data (ONNX's default threshold).</summary>
    public const int SizeThreshold = 1024;

    /// <summary>True when the tensor's bytes live in an external file.</summary>
    public static bool IsExternal(TensorProto tensor) =>
        tensor.HasDataLocation && tensor.DataLocation == TensorProto.Types.DataLocation.External;

    /// <summary>Gets an external_data entry's value, or null.</summary>
    public static string? Entry(TensorProto tensor, string key)
    {
        foreach (var entry in tensor.ExternalData)
        {
            if (entry.Key == key)
            {
                return entry.Value;
            }
        }

        return null;
    }

    /// <summary>Reads the raw little-endian bytes of an external tensor. <paramref name="baseDirectory"/> is the model's
    /// folder; a location that is absolute, escapes that folder (<c>..</c> or a symbolic link out) or is missing is refused
    /// with a one-line error naming <paramref name="modelName"/> and the tensor.</summary>
    public static byte[] ReadBytes(TensorProto tensor, string? baseDirectory, string modelName)
    {
        var range = Locate(tensor, baseDirectory, modelName);
        if (range.Length > Array.MaxLength)
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' is {range.Length} bytes, larger than one array can hold.");
        }

        var bytes = new byte[range.Length];
        range.Read(bytes, tensor.Name, modelName);
        return bytes;
    }

    /// <summary>Where an external tensor's bytes are (file, offset, length), checked as <see cref="ReadBytes"/> checks them
    /// but without reading anything, so a writer can stream them later.</summary>
    public static ExternalRange Locate(TensorProto tensor, string? baseDirectory, string modelName)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var location = Entry(tensor, "location");
        if (string.IsNullOrEmpty(location))
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' is marked external but has no 'location'; the model is malformed.");
        }

        if (baseDirectory is null)
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' stores its data in '{location}', but the model was loaded from a stream with no folder; load it from its file path instead.");
        }

        var path = ResolveLocation(location, baseDirectory, modelName, tensor.Name);
        long offset = ParseLong(tensor, "offset", 0, modelName);
        try
        {
            var fileLength = new FileInfo(path).Length;
            var length = ParseLong(tensor, "length", fileLength - offset, modelName);
            if (offset < 0 || length < 0 || offset + length > fileLength)
            {
                throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' needs bytes {offset}..{offset + length} of '{location}', which has only {fileLength}; the data file is truncated or belongs to another model.");
            }

            return new ExternalRange(path, location, offset, length);
        }
        catch (IOException e)
        {
            throw new OnnxFactorizeException($"{modelName}: cannot read external data '{location}' of tensor '{tensor.Name}': {e.Message}", e);
        }
    }

    /// <summary>Resolves a location relative to the model folder and refuses anything that leaves it.</summary>
    internal static string ResolveLocation(string location, string baseDirectory, string modelName, string tensorName)
    {
        if (Path.IsPathRooted(location) || location.Contains(':', StringComparison.Ordinal))
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensorName}' points to absolute path '{location}'; external data must be a path relative to the model's folder.");
        }

        var root = Path.GetFullPath(baseDirectory);
        var rootReal = OutputPaths.RealPath(root);
        var full = Path.GetFullPath(Path.Combine(root, location));
        if (!IsWithin(full, root))
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensorName}' points to '{location}', outside the model's folder; external data must stay inside it.");
        }

        if (!File.Exists(full))
        {
            throw new OnnxFactorizeException($"{modelName}: external data file '{location}' of tensor '{tensorName}' is missing; copy it next to the model.");
        }

        if (OutputPaths.NonRegularKind(full) is { } kind)
        {
            throw new OnnxFactorizeException($"{modelName}: external data '{location}' of tensor '{tensorName}' is {kind}, not a regular file; point it at a data file.");
        }

        var real = OutputPaths.RealPath(full);
        if (!IsWithin(real, rootReal))
        {
            throw new OnnxFactorizeException($"{modelName}: external data '{location}' of tensor '{tensorName}' is a link to '{real}', outside the model's folder; copy the file into the folder instead.");
        }

        return full;
    }

    private static bool IsWithin(string path, string folder)
    {
        var prefix = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, StringComparison.Ordinal);
    }

    private static long ParseLong(TensorProto tensor, string key, long fallback, string modelName)
    {
        var text = Entry(tensor, key);
        if (text is null)
        {
            return fallback;
        }

        if (!long.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) || value < 0)
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' has external-data {key} '{text}', which is not a non-negative integer.");
        }

        return value;
    }

    /// <summary>Replaces the tensor's storage by a reference into a data file: clears raw_data and typed fields,
    /// sets location/offset/length in ONNX's key order.</summary>
    internal static void PointTo(TensorProto tensor, string location, long offset, long length)
    {
        tensor.RawData = ByteString.Empty;
        tensor.ClearRawData();
        tensor.FloatData.Clear();
        tensor.DoubleData.Clear();
        tensor.Int32Data.Clear();
        tensor.Int64Data.Clear();
        tensor.Uint64Data.Clear();
        tensor.ExternalData.Clear();
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
    }
}

/// <summary>The bytes of one external tensor: <see cref="Path"/> (resolved, inside the model's folder) from
/// <see cref="Offset"/>, <see cref="Length"/> bytes; <see cref="Location"/> is the path as the model wrote it.</summary>
public sealed record ExternalRange(string Path, string Location, long Offset, long Length)
{
    private const int ChunkSize = 1 << 20;

    /// <summary>Reads the whole range into <paramref name="destination"/> (exactly <see cref="Length"/> bytes long).</summary>
    public void Read(Span<byte> destination, string tensorName, string modelName)
    {
        using var stream = Open(tensorName, modelName);
        var length = destination.Length;
        var done = 0;
        while (done < length)
        {
            var n = ReadSome(stream, destination[done..], tensorName, modelName);
            done += n;
        }
    }

    /// <summary>Copies the range to <paramref name="destination"/> in 1 MiB chunks, so a tensor of any size streams through
    /// a fixed buffer instead of being held in memory. Errors reading are one-line messages naming the tensor; errors
    /// writing are the destination's own <see cref="IOException"/>.</summary>
    public void CopyTo(Stream destination, string tensorName, string modelName)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var stream = Open(tensorName, modelName);
        var buffer = new byte[(int)Math.Min(ChunkSize, Math.Max(1, Length))];
        var left = Length;
        while (left > 0)
        {
            var n = ReadSome(stream, buffer.AsSpan(0, (int)Math.Min(buffer.Length, left)), tensorName, modelName);
            destination.Write(buffer, 0, n);
            left -= n;
        }
    }

    private FileStream Open(string tensorName, string modelName)
    {
        try
        {
            var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            stream.Seek(Offset, SeekOrigin.Begin);
            return stream;
        }
        catch (IOException e)
        {
            throw new OnnxFactorizeException($"{modelName}: cannot read external data '{Location}' of tensor '{tensorName}': {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new OnnxFactorizeException($"{modelName}: no permission to read external data '{Location}' of tensor '{tensorName}'.", e);
        }
    }

    private int ReadSome(FileStream stream, Span<byte> buffer, string tensorName, string modelName)
    {
        int n;
        try
        {
            n = stream.Read(buffer);
        }
        catch (IOException e)
        {
            throw new OnnxFactorizeException($"{modelName}: cannot read external data '{Location}' of tensor '{tensorName}': {e.Message}", e);
        }

        return n > 0 ? n : throw new OnnxFactorizeException($"{modelName}: external data '{Location}' of tensor '{tensorName}' ended early (was it changed while being read?).");
    }
}
