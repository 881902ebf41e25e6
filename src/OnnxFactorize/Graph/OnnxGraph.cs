using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Graph;

/// <summary>One editable graph scope (the main graph or a subgraph of an If/Loop/Scan node): nodes, values, initializers,
/// inputs and outputs, with producer and consumer links kept in step by every edit. Names not defined here resolve in the
/// enclosing scopes.</summary>
public sealed partial class OnnxGraph
{
    private readonly GraphProto _template;
    private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
    private readonly List<Node> _nodes = [];
    private readonly List<Value> _inputs = [];
    private readonly List<ValueInfoProto> _inputInfos = [];
    private readonly List<Value> _outputs = [];
    private readonly List<ValueInfoProto> _outputInfos = [];
    private readonly List<Value> _initializers = [];
    private readonly List<ValueInfoProto> _valueInfos = [];

    internal OnnxGraph(ModelGraph model, OnnxGraph? parent, Node? ownerNode, string path, GraphProto proto)
    {
        Model = model;
        Parent = parent;
        OwnerNode = ownerNode;
        Path = path;
        _template = proto.Clone();
        _template.Node.Clear();
        _template.Initializer.Clear();
        _template.Input.Clear();
        _template.Output.Clear();
        _template.ValueInfo.Clear();
    }

    /// <summary>The model this graph belongs to.</summary>
    public ModelGraph Model { get; }

    /// <summary>The enclosing graph, or null for the main graph.</summary>
    public OnnxGraph? Parent { get; }

    /// <summary>The If/Loop/Scan node holding this graph, or null for the main graph.</summary>
    public Node? OwnerNode { get; }

    /// <summary>Where the graph sits: "" for the main graph, else e.g. "If_0/then_branch".</summary>
    public string Path { get; }

    /// <summary>The graph's name.</summary>
    public string Name => _template.Name;

    /// <summary>Nodes in their current order (topological after <see cref="TopologicalSort"/>).</summary>
    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>Graph inputs, in order.</summary>
    public IReadOnlyList<Value> Inputs => _inputs;

    /// <summary>Graph outputs, in order (a subgraph output may be a value of an enclosing scope).</summary>
    public IReadOnlyList<Value> Outputs => _outputs;

    /// <summary>Initializers of this scope, in order.</summary>
    public IReadOnlyList<Value> Initializers => _initializers;

    /// <summary>True once any edit touched this graph.</summary>
    public bool IsModified { get; private set; }

    /// <summary>Finds a value by name in this scope, then in the enclosing ones.</summary>
    public Value? Find(string name)
    {
        for (var g = this; g is not null; g = g.Parent)
        {
            if (g._values.TryGetValue(name, out var v))
            {
                return v;
            }
        }

        return null;
    }

    /// <summary>Adds a node reading <paramref name="inputs"/> and producing new values named from <paramref name="outputNames"/>
    /// (made unique in the model). The node goes after its inputs' producers when the graph is next sorted.</summary>
    public Node AddNode(string opType, IReadOnlyList<Value?> inputs, IReadOnlyList<string> outputNames, string? name = null,
        IEnumerable<AttributeProto>? attributes = null, string domain = "")
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputNames);
        var proto = new NodeProto { OpType = opType };
        if (name is not null)
        {
            proto.Name = Model.UniqueName(name);
        }

        if (domain.Length > 0)
        {
            proto.Domain = domain;
        }

        if (attributes is not null)
        {
            proto.Attribute.AddRange(attributes);
        }

        var node = new Node(this, proto);
        foreach (var input in inputs)
        {
            CheckVisible(input);
            node.AddInputSlot(input);
        }

        foreach (var outputName in outputNames)
        {
            node.AddOutput(Define(Model.UniqueName(outputName)));
        }

        _nodes.Add(node);
        MarkModified();
        return node;
    }

    /// <summary>Adds an initializer under a unique name derived from the tensor's name (the tensor is renamed if needed).</summary>
    public Value AddInitializer(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        tensor.Name = Model.UniqueName(string.IsNullOrEmpty(tensor.Name) ? "initializer" : tensor.Name);
        var value = Define(tensor.Name);
        value.Initializer = tensor;
        _initializers.Add(value);
        MarkModified();
        return value;
    }

    /// <summary>Adds a graph input named after <paramref name="stem"/> (made unique) of element type
    /// <paramref name="elementType"/> and static <paramref name="dims"/>.</summary>
    public Value AddInput(string stem, int elementType, IReadOnlyList<long> dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        var value = Define(Model.UniqueName(stem));
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        var info = new ValueInfoProto { Name = value.Name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } } };
        value.IsGraphInput = true;
        value.Info = info;
        _inputs.Add(value);
        _inputInfos.Add(info);
        MarkModified();
        return value;
    }

    /// <summary>Moves output <paramref name="fromIndex"/> of <paramref name="from"/> to output <paramref name="toIndex"/> of
    /// <paramref name="to"/>: the value keeps its name, consumers and graph-output role, so nothing downstream changes.
    /// <paramref name="from"/> is left with a fresh, unconsumed output that <see cref="ModelGraph.Cleanup"/> removes.</summary>
    public void TransferOutput(Node from, int fromIndex, Node to, int toIndex)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        if (from.Graph != this || to.Graph != this)
        {
            throw new InvalidOperationException("both nodes must belong to this graph");
        }

        var moved = from.Outputs[fromIndex];
        var placeholder = to.Outputs[toIndex];
        if (placeholder.Consumers.Count > 0 || IsOutput(placeholder))
        {
            throw new InvalidOperationException($"output '{placeholder.Name}' of {to} is already in use");
        }

        _values.Remove(placeholder.Name);
        var replacement = Define(Model.UniqueName(moved.Name + "_detached"));
        from.SetOutput(fromIndex, replacement);
        to.SetOutput(toIndex, moved);
        MarkModified();
    }

    /// <summary>True when <paramref name="value"/> is one of this graph's outputs.</summary>
    public bool IsOutput(Value value) => _outputs.Contains(value);

    /// <summary>Every value defined in this scope.</summary>
    public IEnumerable<Value> Values => _values.Values;

    internal void MarkModified()
    {
        for (var g = this; g is not null; g = g.Parent)
        {
            g.IsModified = true;
        }
    }

    private Value Define(string name)
    {
        var value = new Value(this, name);
        _values.Add(name, value);
        return value;
    }

    private void CheckVisible(Value? value)
    {
        if (value is not null && Find(value.Name) != value)
        {
            throw new InvalidOperationException($"value '{value.Name}' is not visible from graph '{Path}'");
        }
    }
}
