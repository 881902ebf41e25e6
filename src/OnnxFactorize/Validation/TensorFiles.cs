using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Validation;

/// <summary>Reads and writes single tensors as ONNX TensorProto <c>.pb</c> files (the ONNX test-data format) and NumPy <c>.npy</c> files.</summary>
public static partial class TensorFiles
{
    private static readonly byte[] NpyMagic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a <c>.pb</c> or <c>.npy</c> file, choosing the format by extension; the name is the stored tensor name or else the file stem.</summary>
    public static TensorData Read(string path)
    {
        Onnx.OutputPaths.RequireRegularFile(path, "the tensor file");
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".npy" => ReadNpy(path),
            ".pb" => ReadPb(path),
            _ => throw new OnnxFactorizeException($"{path}: unknown tensor file type '{ext}'; use .pb (ONNX TensorProto) or .npy (NumPy)."),
        };
    }

    /// <summary>Whether a path has a tensor-file extension (.pb or .npy).</summary>
    public static bool IsTensorFile(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext is ".npy" or ".pb";
    }

    /// <summary>Reads a NumPy .npy file (format v1/v2/v3, little-endian f2/f4/f8/i1/i2/i4/i8/u1/u2/u4/u8/b1, C order).</summary>
    public static TensorData ReadNpy(string path)
    {
        var bytes = ReadAll(path);
        var name = Path.GetFileNameWithoutExtension(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(NpyMagic))
        {
            throw new OnnxFactorizeException($"{path}: not a NumPy .npy file (missing the \\x93NUMPY magic); save it with numpy.save.");
        }

        int major = bytes[6];
        int headerLength;
        int offset;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            offset = 10;
        }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12)
            {
                throw new OnnxFactorizeException($"{path}: truncated .npy header; the file is {bytes.Length} bytes.");
            }

            headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
            offset = 12;
        }
        else
        {
            throw new OnnxFactorizeException($"{path}: .npy format version {major} is not supported; use version 1, 2 or 3.");
        }

        if (offset + headerLength > bytes.Length)
        {
            throw new OnnxFactorizeException($"{path}: truncated .npy header (needs {headerLength} bytes, file has {bytes.Length - offset}).");
        }

        var header = Encoding.UTF8.GetString(bytes, offset, headerLength);
        var descr = DescrRegex().Match(header);
        var fortran = FortranRegex().Match(header);
        var shapeMatch = ShapeRegex().Match(header);
        if (!descr.Success || !shapeMatch.Success)
        {
            throw new OnnxFactorizeException($"{path}: malformed .npy header '{header.Trim()}'.");
        }

        if (fortran.Success && fortran.Groups[1].Value == "True")
        {
            throw new OnnxFactorizeException($"{path}: Fortran-order arrays are not supported; save with numpy.ascontiguousarray.");
        }

        var shape = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s.TrimEnd('L'), CultureInfo.InvariantCulture)).ToArray();
        var d = descr.Groups[1].Value;
        if (d.Length < 2 || d[0] == '>')
        {
            throw new OnnxFactorizeException($"{path}: dtype '{d}' is not supported (big-endian or unknown); use little-endian f4, f8, f2, i8, i4, u1 or b1.");
        }

        var code = d[0] is '<' or '|' or '=' ? d[1..] : d;
        TensorElementType type = code switch
        {
            "f4" => TensorElementType.Float,
            "f8" => TensorElementType.Double,
            "f2" => TensorElementType.Float16,
            "i8" => TensorElementType.Int64,
            "i4" => TensorElementType.Int32,
            "i2" => TensorElementType.Int16,
            "i1" => TensorElementType.Int8,
            "u1" => TensorElementType.UInt8,
            "u2" => TensorElementType.UInt16,
            "u4" => TensorElementType.UInt32,
            "u8" => TensorElementType.UInt64,
            "b1" => TensorElementType.Bool,
            _ => throw new OnnxFactorizeException($"{path}: dtype '{d}' is not supported; use little-endian f4, f8, f2, i8, i4, u1 or b1."),
        };
        var data = FromLittleEndian(path, type, shape, bytes.AsSpan(offset + headerLength));
        return new TensorData(name, type, shape, data);
    }

    /// <summary>Reads an ONNX TensorProto .pb file (raw_data or typed fields); the name is the stored one or else the file stem.</summary>
    public static TensorData ReadPb(string path)
    {
        var bytes = ReadAll(path);
        TensorProto proto;
        try
        {
            proto = TensorProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFactorizeException($"{path}: not a valid ONNX TensorProto ({e.Message}).", e);
        }

        return FromTensorProto(proto, path);
    }

    /// <summary>Converts a TensorProto (raw_data or typed fields) to a tensor; <paramref name="source"/> names it in errors.</summary>
    public static TensorData FromTensorProto(TensorProto proto, string source)
    {
        ArgumentNullException.ThrowIfNull(proto);
        var name = string.IsNullOrEmpty(proto.Name) ? Path.GetFileNameWithoutExtension(source) : proto.Name;
        if (proto.HasDataLocation && proto.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new OnnxFactorizeException($"{source}: tensor '{name}' keeps its data externally; store it inline (raw_data) instead.");
        }

        var type = (TensorElementType)proto.DataType;
        if (!TensorData.IsSupported(type))
        {
            throw new OnnxFactorizeException($"{source}: tensor '{name}' has data_type {proto.DataType}, which is not supported; use float, double, float16, an integer type or bool.");
        }

        var shape = proto.Dims.ToArray();
        var count = TensorData.ElementCountOf(shape);
        if (proto.HasRawData)
        {
            return new TensorData(name, type, shape, FromLittleEndian(source, type, shape, proto.RawData.Span));
        }

        var data = TensorData.Allocate(type, count);
        long available = type switch
        {
            TensorElementType.Float => proto.FloatData.Count,
            TensorElementType.Double => proto.DoubleData.Count,
            TensorElementType.Int64 => proto.Int64Data.Count,
            TensorElementType.UInt32 or TensorElementType.UInt64 => proto.Uint64Data.Count,
            _ => proto.Int32Data.Count,
        };
        if (available != count)
        {
            throw new OnnxFactorizeException($"{source}: tensor '{name}' of shape {TensorData.FormatShape(shape)} needs {count} values but holds {available}; the file is truncated or corrupt.");
        }

        for (var i = 0; i < count; i++)
        {
            // Typed-field layout per onnx.proto: narrow ints, bool and float16 bits live in int32_data; uint32/uint64 in uint64_data.
            object v = type switch
            {
                TensorElementType.Float => proto.FloatData[i],
                TensorElementType.Double => proto.DoubleData[i],
                TensorElementType.Int64 => proto.Int64Data[i],
                TensorElementType.Int32 => proto.Int32Data[i],
                TensorElementType.Int16 => (short)proto.Int32Data[i],
                TensorElementType.Int8 => (sbyte)proto.Int32Data[i],
                TensorElementType.UInt8 => (byte)proto.Int32Data[i],
                TensorElementType.UInt16 => (ushort)proto.Int32Data[i],
                TensorElementType.Float16 => new Float16((ushort)proto.Int32Data[i]),
                TensorElementType.Bool => proto.Int32Data[i] != 0,
                TensorElementType.UInt32 => (uint)proto.Uint64Data[i],
                _ => proto.Uint64Data[i],
            };
            data.SetValue(v, i);
        }

        return new TensorData(name, type, shape, data);
    }

    /// <summary>Converts a tensor to a TensorProto with raw_data.</summary>
    public static TensorProto ToTensorProto(TensorData tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var proto = new TensorProto { Name = tensor.Name, DataType = (int)tensor.ElementType, RawData = ByteString.CopyFrom(ToLittleEndian(tensor)) };
        proto.Dims.AddRange(tensor.Shape);
        return proto;
    }

    /// <summary>Writes a tensor as an ONNX TensorProto .pb file (raw_data).</summary>
    public static void WritePb(string path, TensorData tensor) => File.WriteAllBytes(path, ToTensorProto(tensor).ToByteArray());

    /// <summary>Writes a tensor as a NumPy .npy file (format v1, little-endian, C order).</summary>
    public static void WriteNpy(string path, TensorData tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var descr = tensor.ElementType switch
        {
            TensorElementType.Float => "<f4",
            TensorElementType.Double => "<f8",
            TensorElementType.Float16 => "<f2",
            TensorElementType.Int64 => "<i8",
            TensorElementType.Int32 => "<i4",
            TensorElementType.Int16 => "<i2",
            TensorElementType.Int8 => "|i1",
            TensorElementType.UInt8 => "|u1",
            TensorElementType.UInt16 => "<u2",
            TensorElementType.UInt32 => "<u4",
            TensorElementType.UInt64 => "<u8",
            _ => "|b1",
        };
        var shape = tensor.Shape.Count switch
        {
            0 => "()",
            1 => $"({tensor.Shape[0]},)",
            _ => "(" + string.Join(", ", tensor.Shape) + ")",
        };
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // Pad so magic + version + length + header + '\n' is a multiple of 64 (NumPy format spec).
        var total = 10 + header.Length + 1;
        header += new string(' ', (64 - (total % 64)) % 64) + "\n";
        using var stream = File.Create(path);
        stream.Write(NpyMagic);
        stream.Write([1, 0]);
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, checked((ushort)header.Length));
        stream.Write(len);
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(ToLittleEndian(tensor));
    }

    private static byte[] ReadAll(string path)
    {
        if (!File.Exists(path))
        {
            throw new OnnxFactorizeException($"{path}: file not found.");
        }

        return File.ReadAllBytes(path);
    }

    private static Array FromLittleEndian(string source, TensorElementType type, long[] shape, ReadOnlySpan<byte> bytes)
    {
        var count = TensorData.ElementCountOf(shape);
        var size = ElementSize(type);
        var need = count * size;
        if (bytes.Length < need)
        {
            throw new OnnxFactorizeException($"{source}: truncated data: shape {TensorData.FormatShape(shape)} of {TensorData.ElementTypeName(type)} needs {need} bytes, found {bytes.Length}.");
        }

        var data = TensorData.Allocate(type, count);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Big-endian hosts are not supported.");
        }

        // Every supported element type is blittable; bool is one byte in .npy, TensorProto and .NET alike.
        bytes[..(int)need].CopyTo(AsBytes(data));
        if (data is bool[] flags)
        {
            // Normalize non-zero bytes to true so bool comparisons are exact.
            var raw = bytes[..(int)need];
            for (var i = 0; i < flags.Length; i++)
            {
                flags[i] = raw[i] != 0;
            }
        }

        return data;
    }

    private static byte[] ToLittleEndian(TensorData tensor)
    {
        var size = ElementSize(tensor.ElementType);
        var bytes = new byte[tensor.ElementCount * size];
        AsBytes(tensor.Data).CopyTo(bytes);
        return bytes;
    }

    // The raw bytes of a primitive (or Float16) array, viewed in place (also the calibration store's spill format).
    internal static Span<byte> AsBytes(Array data)
    {
        return data switch
        {
            float[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            double[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            Float16[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            long[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            int[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            short[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            sbyte[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            byte[] a => a.AsSpan(),
            ushort[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            uint[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            ulong[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            bool[] a => MemoryMarshal.AsBytes(a.AsSpan()),
            _ => throw new InvalidOperationException($"Unsupported array {data.GetType().Name}."),
        };
    }

    private static int ElementSize(TensorElementType type)
    {
        return type switch
        {
            TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,
            TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
            TensorElementType.Float16 or TensorElementType.Int16 or TensorElementType.UInt16 => 2,
            _ => 1,
        };
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranRegex();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}
