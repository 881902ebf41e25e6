using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Graph;

/// <summary>An operator in a graph. Inputs and outputs are <see cref="Value"/>s; changing an input through
/// <see cref="SetInput"/> updates the consumer index of both the old and the new value.</summary>
public sealed class Node
{
    private readonly List<Value?> _inputs = [];
    private readonly List<Value> _outputs = [];
    private readonly List<(string Attribute, int Index, OnnxGraph Graph)> _subgraphs = [];

    internal Node(OnnxGraph graph, NodeProto proto)
    {
        Graph = graph;
        Proto = proto;
    }

    /// <summary>The graph holding this node.</summary>
    public OnnxGraph Graph { get; }

    /// <summary>The node's protobuf: name, op type, domain, attributes, doc string and unknown fields. Its input and output
    /// name lists are rewritten from <see cref="Inputs"/> and <see cref="Outputs"/> on export.</summary>
    public NodeProto Proto { get; }

    /// <summary>Operator type, e.g. "Gemm".</summary>
    public string OpType => Proto.OpType;

    /// <summary>Operator domain; "" (or "ai.onnx") is the default ONNX domain.</summary>
    public string Domain => Proto.Domain;

    /// <summary>True for operators of the default ONNX domain.</summary>
    public bool IsDefaultDomain => Proto.Domain is "" or "ai.onnx";

    /// <summary>The node's name, or "" when it has none.</summary>
    public string Name => Proto.Name;

    /// <summary>Input values; null marks an omitted optional input.</summary>
    public IReadOnlyList<Value?> Inputs => _inputs;

    /// <summary>Output values.</summary>
    public IReadOnlyList<Value> Outputs => _outputs;

    /// <summary>Graphs held in this node's attributes (If branches, Loop and Scan bodies).</summary>
    public IReadOnlyList<OnnxGraph> Subgraphs => _subgraphs.Select(s => s.Graph).ToList();

    internal IReadOnlyList<(string Attribute, int Index, OnnxGraph Graph)> SubgraphSlots => _subgraphs;

    /// <summary>Replaces input <paramref name="index"/>, keeping both values' consumer lists right.</summary>
    public void SetInput(int index, Value? value)
    {
        var old = _inputs[index];
        old?.RemoveConsumer(this);
        _inputs[index] = value;
        value?.AddConsumer(this);
        Graph.MarkModified();
    }

    /// <summary>The attribute named <paramref name="name"/>, or null.</summary>
    public AttributeProto? Attribute(string name)
    {
        foreach (var a in Proto.Attribute)
        {
            if (a.Name == name)
            {
                return a;
            }
        }

        return null;
    }

    /// <summary>An INT attribute, or <paramref name="fallback"/> when absent.</summary>
    public long GetInt(string name, long fallback) => Attribute(name) is { } a ? a.I : fallback;

    /// <summary>A FLOAT attribute, or <paramref name="fallback"/> when absent.</summary>
    public float GetFloat(string name, float fallback) => Attribute(name) is { } a ? a.F : fallback;

    /// <summary>An INTS attribute, or null when absent.</summary>
    public IReadOnlyList<long>? GetInts(string name) => Attribute(name) is { } a ? a.Ints : null;

    /// <summary>A STRING attribute decoded as UTF-8, or <paramref name="fallback"/> when absent.</summary>
    public string GetString(string name, string fallback) => Attribute(name) is { } a ? a.S.ToStringUtf8() : fallback;

    internal void AddInputSlot(Value? value)
    {
        _inputs.Add(value);
        value?.AddConsumer(this);
    }

    internal void AddOutput(Value value)
    {
        _outputs.Add(value);
        value.Producer = this;
    }

    internal void SetOutput(int index, Value value)
    {
        _outputs[index] = value;
        value.Producer = this;
    }

    internal void AddSubgraph(string attribute, int index, OnnxGraph graph) => _subgraphs.Add((attribute, index, graph));

    internal void DetachInputs()
    {
        for (var i = 0; i < _inputs.Count; i++)
        {
            _inputs[i]?.RemoveConsumer(this);
            _inputs[i] = null;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => string.IsNullOrEmpty(Name) ? $"{OpType}({string.Join(", ", _outputs)})" : $"{OpType} '{Name}'";
}
