using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Onnx;

/// <summary>Reads tensors as float32 whatever their storage (raw_data little-endian, typed fields, external data) and
/// writes float values back in a chosen element type. Only FLOAT, FLOAT16, BFLOAT16 and DOUBLE are factorizable; other
/// types are refused, never converted.</summary>
public static class TensorCodec
{
    /// <summary>Number of elements: the product of dims (1 for a scalar).</summary>
    /// <exception cref="OnnxFactorizeException">A negative dim, or more than <see cref="ModelCheck.MaxElements"/> elements.</exception>
    public static long ElementCount(TensorProto tensor) => ModelCheck.ElementCount(tensor, "model");

    /// <summary>Reads a FLOAT, FLOAT16, BFLOAT16 or DOUBLE tensor as float32 values, row-major.</summary>
    /// <exception cref="OnnxFactorizeException">Another element type, a size that disagrees with the dims, or unreadable external data.</exception>
    public static float[] ReadFloats(TensorProto tensor, string? baseDirectory = null, string modelName = "<model>")
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var count = ModelCheck.ElementCount(tensor, modelName);
        if (!ElementType.IsFactorizable(tensor.DataType))
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' has element type {ElementType.Name(tensor.DataType)}, which is not factorizable (FLOAT, FLOAT16, BFLOAT16, DOUBLE are).");
        }

        if (tensor.Segment is not null)
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' is a segment of a larger tensor, which is not supported.");
        }

        var type = (TensorProto.Types.DataType)tensor.DataType;
        if (ExternalData.IsExternal(tensor) && type == TensorProto.Types.DataType.Float && BitConverter.IsLittleEndian)
        {
            // Straight from the file into the result: no intermediate byte copy of the weight.
            var range = ExternalData.Locate(tensor, baseDirectory, modelName);
            if (range.Length != count * 4)
            {
                throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' holds {range.Length} bytes but its dims need {count * 4}; the model is corrupt.");
            }

            var floats = new float[count];
            range.Read(MemoryMarshal.AsBytes(floats.AsSpan()), tensor.Name, modelName);
            return floats;
        }

        ReadOnlySpan<byte> raw = ExternalData.IsExternal(tensor) ? ExternalData.ReadBytes(tensor, baseDirectory, modelName)
            : tensor.HasRawData ? tensor.RawData.Span : default;
        var hasRaw = ExternalData.IsExternal(tensor) || tensor.HasRawData;
        if (hasRaw)
        {
            var size = ElementType.SizeInBytes(tensor.DataType);
            if (raw.Length != count * size)
            {
                throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' holds {raw.Length} bytes but its dims need {count * size}; the model is corrupt.");
            }

            // Sizes agree with the bytes present, so this allocation is bounded by what was read.
            var values = new float[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = type switch
                {
                    TensorProto.Types.DataType.Float => BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]),
                    TensorProto.Types.DataType.Double => (float)BinaryPrimitives.ReadDoubleLittleEndian(raw[(i * 8)..]),
                    TensorProto.Types.DataType.Float16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..])),
                    _ => BFloat16ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..])),
                };
            }

            return values;
        }

        // Typed fields: FLOAT in float_data, DOUBLE in double_data, FLOAT16/BFLOAT16 as bit patterns in int32_data.
        var typedCount = type switch
        {
            TensorProto.Types.DataType.Float => tensor.FloatData.Count,
            TensorProto.Types.DataType.Double => tensor.DoubleData.Count,
            _ => tensor.Int32Data.Count,
        };
        if (typedCount != count)
        {
            throw new OnnxFactorizeException($"{modelName}: tensor '{tensor.Name}' holds {typedCount} values but its dims need {count}; the model is corrupt.");
        }

        var typedValues = new float[count];
        for (var i = 0; i < count; i++)
        {
            typedValues[i] = type switch
            {
                TensorProto.Types.DataType.Float => tensor.FloatData[i],
                TensorProto.Types.DataType.Double => (float)tensor.DoubleData[i],
                TensorProto.Types.DataType.Float16 => (float)BitConverter.UInt16BitsToHalf((ushort)tensor.Int32Data[i]),
                _ => BFloat16ToSingle((ushort)tensor.Int32Data[i]),
            };
        }

        return typedValues;
    }

    /// <summary>Creates a tensor holding <paramref name="values"/> converted to <paramref name="dataType"/> (FLOAT, FLOAT16,
    /// BFLOAT16 or DOUBLE), stored as little-endian raw_data.</summary>
    public static TensorProto Create(string name, IReadOnlyList<long> dims, ReadOnlySpan<float> values, int dataType = (int)TensorProto.Types.DataType.Float)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (!ElementType.IsFactorizable(dataType))
        {
            throw new ArgumentException($"element type {ElementType.Name(dataType)} cannot hold factor values", nameof(dataType));
        }

        var tensor = new TensorProto { Name = name, DataType = dataType };
        tensor.Dims.AddRange(dims);
        if (ElementCount(tensor) != values.Length)
        {
            throw new ArgumentException($"tensor '{name}': {values.Length} values do not fill dims [{string.Join(',', dims)}]", nameof(values));
        }

        var size = ElementType.SizeInBytes(dataType);
        var bytes = new byte[values.Length * size];
        var span = bytes.AsSpan();
        for (var i = 0; i < values.Length; i++)
        {
            switch ((TensorProto.Types.DataType)dataType)
            {
                case TensorProto.Types.DataType.Float:
                    BinaryPrimitives.WriteSingleLittleEndian(span[(i * 4)..], values[i]);
                    break;
                case TensorProto.Types.DataType.Double:
                    BinaryPrimitives.WriteDoubleLittleEndian(span[(i * 8)..], values[i]);
                    break;
                case TensorProto.Types.DataType.Float16:
                    BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], BitConverter.HalfToUInt16Bits((Half)values[i]));
                    break;
                default:
                    BinaryPrimitives.WriteUInt16LittleEndian(span[(i * 2)..], SingleToBFloat16(values[i]));
                    break;
            }
        }

        // The array is not used again, so the ByteString may own it (no second copy of every factor).
        tensor.RawData = UnsafeByteOperations.UnsafeWrap(bytes);
        return tensor;
    }

    /// <summary>True when every value is finite (no NaN, no ±Inf).</summary>
    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>bfloat16 is the upper half of an IEEE float32.</summary>
    public static float BFloat16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Rounds a float32 to bfloat16 (round to nearest even; NaN stays NaN).</summary>
    public static ushort SingleToBFloat16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>Re-encodes a tensor's typed-field values as the little-endian bytes raw_data would hold.</summary>
    internal static byte[] EncodeTypedFields(TensorProto tensor)
    {
        var type = (TensorProto.Types.DataType)tensor.DataType;
        switch (type)
        {
            case TensorProto.Types.DataType.Float:
                return MemoryMarshal.AsBytes(tensor.FloatData.ToArray().AsSpan()).ToArray();
            case TensorProto.Types.DataType.Double:
                return MemoryMarshal.AsBytes(tensor.DoubleData.ToArray().AsSpan()).ToArray();
            case TensorProto.Types.DataType.Int64:
                return MemoryMarshal.AsBytes(tensor.Int64Data.ToArray().AsSpan()).ToArray();
            case TensorProto.Types.DataType.Uint64 or TensorProto.Types.DataType.Uint32:
                return type == TensorProto.Types.DataType.Uint64
                    ? MemoryMarshal.AsBytes(tensor.Uint64Data.ToArray().AsSpan()).ToArray()
                    : tensor.Uint64Data.SelectMany(v => BitConverter.GetBytes((uint)v)).ToArray();
            case TensorProto.Types.DataType.Int32:
                return MemoryMarshal.AsBytes(tensor.Int32Data.ToArray().AsSpan()).ToArray();
            default:
                var size = ElementType.SizeInBytes(tensor.DataType);
                if (size is 0 or > 4)
                {
                    throw new OnnxFactorizeException($"tensor '{tensor.Name}' of element type {ElementType.Name(tensor.DataType)} cannot be stored as external data.");
                }

                var bytes = new byte[tensor.Int32Data.Count * size];
                for (var i = 0; i < tensor.Int32Data.Count; i++)
                {
                    var v = tensor.Int32Data[i];
                    for (var b = 0; b < size; b++)
                    {
                        bytes[(i * size) + b] = (byte)(v >> (8 * b));
                    }
                }

                return bytes;
        }
    }
}
