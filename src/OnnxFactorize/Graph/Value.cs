using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Graph;

/// <summary>A named value in one graph scope: a graph input, an initializer, or a node output. Its producer and consumers are
/// kept in step by the graph's edit operations; consumers include nodes inside subgraphs that read it from the outer scope.</summary>
public sealed class Value
{
    private readonly List<Node> _consumers = [];

    internal Value(OnnxGraph graph, string name)
    {
        Graph = graph;
        Name = name;
    }

    /// <summary>The value's name, unique in the model.</summary>
    public string Name { get; internal set; }

    /// <summary>The graph scope that defines this value.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>The node producing this value, or null for inputs and initializers.</summary>
    public Node? Producer { get; internal set; }

    /// <summary>Nodes reading this value, once per input slot (a node reading it twice appears twice).</summary>
    public IReadOnlyList<Node> Consumers => _consumers;

    /// <summary>The initializer's tensor when the value is one.</summary>
    public TensorProto? Initializer { get; internal set; }

    /// <summary>True when the value is a sparse initializer (kept as it is; never factorized).</summary>
    public bool IsSparseInitializer { get; internal set; }

    /// <summary>True when the value is listed among the graph's inputs.</summary>
    public bool IsGraphInput { get; internal set; }

    /// <summary>True when the value is listed among the graph's outputs.</summary>
    public bool IsGraphOutput { get; internal set; }

    /// <summary>Declared type and shape, from the graph's input, output or value_info lists, when known.</summary>
    public ValueInfoProto? Info { get; internal set; }

    /// <summary>A constant: an initializer that is not also a graph input.</summary>
    public bool IsConstant => Initializer is not null && !IsGraphInput;

    /// <summary>An initializer that is also a graph input, so callers can override it at run time: not a constant.</summary>
    public bool IsOverridableInitializer => Initializer is not null && IsGraphInput;

    /// <summary>Static dims from the initializer, <see cref="Info"/>, or shapes measured for the model (<see cref="ModelGraph.AddMeasuredShapes"/>):
    /// null when unknown, -1 for a symbolic dim.</summary>
    public IReadOnlyList<long>? Shape
    {
        get
        {
            if (Initializer is not null)
            {
                return Initializer.Dims;
            }

            var declared = Info?.Type?.TensorType?.Shape?.Dim.Select(d => d.HasDimValue ? d.DimValue : -1).ToArray();
            if (declared is not null && declared.All(d => d >= 0))
            {
                return declared;
            }

            // Measured shapes fill in what the model leaves unknown or symbolic.
            return Graph.Model.MeasuredShape(Name) ?? declared;
        }
    }

    /// <summary>Element type code from the initializer or <see cref="Info"/>, 0 when unknown.</summary>
    public int ElementType => Initializer?.DataType ?? Info?.Type?.TensorType?.ElemType ?? 0;

    internal void AddConsumer(Node node) => _consumers.Add(node);

    internal void RemoveConsumer(Node node) => _consumers.Remove(node);

    /// <inheritdoc/>
    public override string ToString() => Name;
}
