using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Onnx;

/// <summary>Facts about ONNX tensor element types (<see cref="TensorProto.Types.DataType"/>).</summary>
public static class ElementType
{
    /// <summary>The upper-case ONNX name of an element type code, e.g. "FLOAT16", or "type 42" when unknown.</summary>
    public static string Name(int dataType) =>
        Enum.IsDefined(typeof(TensorProto.Types.DataType), dataType)
            ? ((TensorProto.Types.DataType)dataType).ToString().ToUpperInvariant()
            : $"type {dataType}";

    /// <summary>True for the element types whose values can be read as float and written back: FLOAT, FLOAT16, BFLOAT16, DOUBLE.</summary>
    public static bool IsFactorizable(int dataType) => dataType is
        (int)TensorProto.Types.DataType.Float or
        (int)TensorProto.Types.DataType.Float16 or
        (int)TensorProto.Types.DataType.Bfloat16 or
        (int)TensorProto.Types.DataType.Double;

    /// <summary>Bytes per element for fixed-size types; 0 for strings, sub-byte and unknown types.</summary>
    public static int SizeInBytes(int dataType) => (TensorProto.Types.DataType)dataType switch
    {
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Uint32 => 4,
        TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Uint64
            or TensorProto.Types.DataType.Complex64 => 8,
        TensorProto.Types.DataType.Complex128 => 16,
        TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 or TensorProto.Types.DataType.Int16
            or TensorProto.Types.DataType.Uint16 => 2,
        TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Bool
            or TensorProto.Types.DataType.Float8E4M3Fn or TensorProto.Types.DataType.Float8E4M3Fnuz
            or TensorProto.Types.DataType.Float8E5M2 or TensorProto.Types.DataType.Float8E5M2Fnuz => 1,
        _ => 0,
    };
}
