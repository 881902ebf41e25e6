using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxFactorize.Validation;

/// <summary>A named dense tensor held in a managed array (float[], double[], Float16[], long[], int[], short[], sbyte[], byte[], ushort[], uint[], ulong[] or bool[]).</summary>
public sealed class TensorData
{
    /// <summary>Creates a tensor; the array's element type must match <paramref name="elementType"/> and its length the shape.</summary>
    public TensorData(string name, TensorElementType elementType, IReadOnlyList<long> shape, Array data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (ClrType(elementType) != data.GetType().GetElementType())
        {
            throw new ArgumentException($"Tensor '{name}': {ElementTypeName(elementType)} needs a {ClrType(elementType).Name}[], got {data.GetType().Name}.", nameof(data));
        }

        var count = ElementCountOf(shape);
        if (count != data.LongLength)
        {
            throw new ArgumentException($"Tensor '{name}': shape {FormatShape(shape)} holds {count} elements but the data has {data.LongLength}.", nameof(data));
        }

        Name = name;
        ElementType = elementType;
        Shape = [.. shape];
        Data = data;
    }

    /// <summary>Tensor name (the model input or output it belongs to, or a file stem).</summary>
    public string Name { get; }

    /// <summary>Element type, numbered as ONNX TensorProto.DataType.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>Dimensions (empty for a scalar).</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>The elements in C (row-major) order.</summary>
    public Array Data { get; }

    /// <summary>Number of elements.</summary>
    public long ElementCount => Data.LongLength;

    /// <summary>Creates a tensor from a typed array, inferring the element type.</summary>
    public static TensorData Create<T>(string name, IReadOnlyList<long> shape, T[] data)
        where T : unmanaged => new(name, ElementTypeOf(typeof(T)), shape, data);

    /// <summary>Same data under another name.</summary>
    public TensorData WithName(string name) => new(name, ElementType, Shape, Data);

    /// <summary>The elements widened to double (bool as 0/1, Float16 exactly).</summary>
    public double[] ToDoubles()
    {
        return Data switch
        {
            float[] a => Array.ConvertAll(a, v => (double)v),
            double[] a => (double[])a.Clone(),
            Float16[] a => Array.ConvertAll(a, v => (double)BitConverter.UInt16BitsToHalf(v.value)),
            long[] a => Array.ConvertAll(a, v => (double)v),
            int[] a => Array.ConvertAll(a, v => (double)v),
            short[] a => Array.ConvertAll(a, v => (double)v),
            sbyte[] a => Array.ConvertAll(a, v => (double)v),
            byte[] a => Array.ConvertAll(a, v => (double)v),
            ushort[] a => Array.ConvertAll(a, v => (double)v),
            uint[] a => Array.ConvertAll(a, v => (double)v),
            ulong[] a => Array.ConvertAll(a, v => (double)v),
            bool[] a => Array.ConvertAll(a, v => v ? 1.0 : 0.0),
            _ => throw new InvalidOperationException($"Unsupported array {Data.GetType().Name}."),
        };
    }

    /// <summary>Whether the element type is a floating-point type.</summary>
    public bool IsFloatingPoint => ElementType is TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16;

    /// <summary>Shape formatted as [d0,d1,…].</summary>
    public static string FormatShape(IReadOnlyList<long> shape) => "[" + string.Join(",", shape) + "]";

    /// <summary>Short ONNX-style name of an element type (float32, int64, bool …).</summary>
    public static string ElementTypeName(TensorElementType type)
    {
        return type switch
        {
            TensorElementType.Float => "float32",
            TensorElementType.Double => "float64",
            TensorElementType.Float16 => "float16",
            TensorElementType.Int64 => "int64",
            TensorElementType.Int32 => "int32",
            TensorElementType.Int16 => "int16",
            TensorElementType.Int8 => "int8",
            TensorElementType.UInt8 => "uint8",
            TensorElementType.UInt16 => "uint16",
            TensorElementType.UInt32 => "uint32",
            TensorElementType.UInt64 => "uint64",
            TensorElementType.Bool => "bool",
            _ => type.ToString().ToLowerInvariant(),
        };
    }

    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    public static long ElementCountOf(IReadOnlyList<long> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            count = checked(count * d);
        }

        return count;
    }

    internal static bool IsSupported(TensorElementType type) => type is TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16
        or TensorElementType.Int64 or TensorElementType.Int32 or TensorElementType.Int16 or TensorElementType.Int8 or TensorElementType.UInt8
        or TensorElementType.UInt16 or TensorElementType.UInt32 or TensorElementType.UInt64 or TensorElementType.Bool;

    internal static Type ClrType(TensorElementType type)
    {
        return type switch
        {
            TensorElementType.Float => typeof(float),
            TensorElementType.Double => typeof(double),
            TensorElementType.Float16 => typeof(Float16),
            TensorElementType.Int64 => typeof(long),
            TensorElementType.Int32 => typeof(int),
            TensorElementType.Int16 => typeof(short),
            TensorElementType.Int8 => typeof(sbyte),
            TensorElementType.UInt8 => typeof(byte),
            TensorElementType.UInt16 => typeof(ushort),
            TensorElementType.UInt32 => typeof(uint),
            TensorElementType.UInt64 => typeof(ulong),
            TensorElementType.Bool => typeof(bool),
            _ => throw new OnnxFactorizeException($"Element type {type} is not supported for validation; supported: float, double, float16, integer types and bool."),
        };
    }

    internal static TensorElementType ElementTypeOf(Type type)
    {
        foreach (var t in Enum.GetValues<TensorElementType>())
        {
            if (IsSupported(t) && ClrType(t) == type)
            {
                return t;
            }
        }

        throw new ArgumentException($"No ONNX element type for {type.Name}.", nameof(type));
    }

    internal static Array Allocate(TensorElementType type, long count) => Array.CreateInstance(ClrType(type), count);

    internal OrtValue ToOrtValue()
    {
        var shape = Shape.ToArray();
        return Data switch
        {
            float[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            double[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            Float16[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            long[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            int[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            short[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            sbyte[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            byte[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            ushort[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            uint[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            ulong[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            bool[] a => OrtValue.CreateTensorValueFromMemory(a, shape),
            _ => throw new InvalidOperationException($"Unsupported array {Data.GetType().Name}."),
        };
    }

    internal static TensorData FromOrtValue(string name, OrtValue value)
    {
        if (!value.IsTensor)
        {
            throw new OnnxFactorizeException($"Output '{name}' is not a tensor (sequence or map outputs are not compared).");
        }

        var info = value.GetTensorTypeAndShape();
        Array data = info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray(),
            TensorElementType.Int16 => value.GetTensorDataAsSpan<short>().ToArray(),
            TensorElementType.Int8 => value.GetTensorDataAsSpan<sbyte>().ToArray(),
            TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray(),
            TensorElementType.UInt16 => value.GetTensorDataAsSpan<ushort>().ToArray(),
            TensorElementType.UInt32 => value.GetTensorDataAsSpan<uint>().ToArray(),
            TensorElementType.UInt64 => value.GetTensorDataAsSpan<ulong>().ToArray(),
            TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
            _ => throw new OnnxFactorizeException($"Output '{name}' has element type {info.ElementDataType}, which is not compared; supported: float, double, float16, integer types and bool."),
        };
        return new TensorData(name, info.ElementDataType, info.Shape, data);
    }
}
