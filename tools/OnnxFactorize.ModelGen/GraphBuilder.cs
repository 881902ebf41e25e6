using System.Buffers.Binary;
using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.ModelGen;

/// <summary>Builds a <see cref="GraphProto"/> tersely: inputs, outputs, initializers and nodes with attributes.
/// Shape dimensions are <see cref="long"/> (static) or <see cref="string"/> (symbolic, dim_param).</summary>
public sealed class GraphBuilder
{
    /// <summary>Data type codes as in onnx.proto TensorProto.DataType.</summary>
    public const int FloatType = (int)TensorProto.Types.DataType.Float;

    /// <summary>FLOAT16.</summary>
    public const int Float16Type = (int)TensorProto.Types.DataType.Float16;

    /// <summary>BFLOAT16.</summary>
    public const int BFloat16Type = (int)TensorProto.Types.DataType.Bfloat16;

    /// <summary>BOOL.</summary>
    public const int BoolType = (int)TensorProto.Types.DataType.Bool;

    /// <summary>INT64.</summary>
    public const int Int64Type = (int)TensorProto.Types.DataType.Int64;

    private int _nodeCount;

    /// <summary>Creates a builder for a graph with the given name.</summary>
    public GraphBuilder(string name) => Graph = new GraphProto { Name = name };

    /// <summary>The graph being built.</summary>
    public GraphProto Graph { get; }

    /// <summary>Declares a graph input.</summary>
    public GraphBuilder Input(string name, int elemType, params object[] dims)
    {
        Graph.Input.Add(ValueInfo(name, elemType, dims));
        return this;
    }

    /// <summary>Declares a graph output.</summary>
    public GraphBuilder Output(string name, int elemType, params object[] dims)
    {
        Graph.Output.Add(ValueInfo(name, elemType, dims));
        return this;
    }

    /// <summary>Adds a float initializer stored as little-endian raw_data (or float_data when asked).</summary>
    public TensorProto Initializer(string name, float[] values, long[] dims, bool useFloatData = false)
    {
        var tensor = new TensorProto { Name = name, DataType = FloatType };
        tensor.Dims.AddRange(dims);
        if (useFloatData)
        {
            tensor.FloatData.AddRange(values);
        }
        else
        {
            var bytes = new byte[values.Length * 4];
            for (var k = 0; k < values.Length; k++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(k * 4), values[k]);
            }

            tensor.RawData = ByteString.CopyFrom(bytes);
        }

        Graph.Initializer.Add(tensor);
        return tensor;
    }

    /// <summary>Adds a FLOAT16 initializer (IEEE round-to-nearest-even) as raw_data.</summary>
    public TensorProto InitializerFloat16(string name, float[] values, long[] dims)
    {
        var bytes = new byte[values.Length * 2];
        for (var k = 0; k < values.Length; k++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(k * 2), BitConverter.HalfToUInt16Bits((Half)values[k]));
        }

        return AddRaw(name, Float16Type, dims, bytes);
    }

    /// <summary>Adds a BFLOAT16 initializer (upper 16 bits of the float, rounded to nearest even) as raw_data.</summary>
    public TensorProto InitializerBFloat16(string name, float[] values, long[] dims)
    {
        var bytes = new byte[values.Length * 2];
        for (var k = 0; k < values.Length; k++)
        {
            var bits = BitConverter.SingleToUInt32Bits(values[k]);
            var rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(k * 2), (ushort)rounded);
        }

        return AddRaw(name, BFloat16Type, dims, bytes);
    }

    /// <summary>Adds an INT64 initializer.</summary>
    public TensorProto InitializerInt64(string name, long[] values, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = Int64Type };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values);
        Graph.Initializer.Add(tensor);
        return tensor;
    }

    /// <summary>Adds a node; attributes are built with the static helpers (<see cref="Attr(string, long)"/> …).
    /// Nodes get deterministic names "OpType_N"; <see cref="NamedNode"/> takes an explicit name.</summary>
    public NodeProto Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes) =>
        NamedNode(null, opType, inputs, outputs, attributes);

    /// <summary>Adds a node with an explicit name.</summary>
    public NodeProto NamedNode(string? name, string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name ?? $"{opType}_{_nodeCount}" };
        _nodeCount++;
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return node;
    }

    /// <summary>A typed value with a shape; dims are long (dim_value) or string (dim_param).</summary>
    public static ValueInfoProto ValueInfo(string name, int elemType, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int value => new TensorShapeProto.Types.Dimension { DimValue = value },
                long value => new TensorShapeProto.Types.Dimension { DimValue = value },
                _ => throw new ArgumentException($"dimension '{dim}' of '{name}' must be a long or a string", nameof(dims)),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }

    /// <summary>INT attribute.</summary>
    public static AttributeProto Attr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>FLOAT attribute.</summary>
    public static AttributeProto Attr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>STRING attribute (UTF-8).</summary>
    public static AttributeProto Attr(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>INTS attribute (a separate name from the INT overload so a one-element list cannot become an INT).</summary>
    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>GRAPH attribute (If branches, Loop body).</summary>
    public static AttributeProto Attr(string name, GraphProto graph) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = graph };

    private TensorProto AddRaw(string name, int dataType, long[] dims, byte[] bytes)
    {
        var tensor = new TensorProto { Name = name, DataType = dataType, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        return tensor;
    }
}
