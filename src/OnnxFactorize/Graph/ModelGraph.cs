using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Graph;

/// <summary>The editable form of a whole model: the main graph with its subgraphs, the model-level fields kept as they
/// were, and unique-name generation across every scope. Only <see cref="Import"/> and <see cref="Export"/> touch the
/// protobuf.</summary>
public sealed class ModelGraph
{
    private readonly ModelProto _template;
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long[]> _measuredShapes = new(StringComparer.Ordinal);

    private ModelGraph(OnnxModel source)
    {
        Source = source;
        _template = source.Proto.Clone();
        _template.Graph = null;
        Main = null!;
    }

    /// <summary>The model this graph was imported from (for its folder, name and external data).</summary>
    public OnnxModel Source { get; }

    /// <summary>The main graph.</summary>
    public OnnxGraph Main { get; private set; }

    /// <summary>True once any graph of the model was edited.</summary>
    public bool IsModified => AllGraphs().Any(g => g.IsModified);

    /// <summary>Builds the editable graph of <paramref name="model"/>; the model itself is not changed.
    /// <paramref name="measuredShapes"/> fill in shapes the model does not declare (see <see cref="AddMeasuredShapes"/>).</summary>
    public static ModelGraph Import(OnnxModel model, IReadOnlyDictionary<string, long[]>? measuredShapes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var result = new ModelGraph(model);
        var graph = model.Proto.Graph.Clone();
        result.CollectNames(graph);
        foreach (var f in model.Proto.Functions)
        {
            foreach (var n in f.Node)
            {
                result._names.UnionWith(n.Output);
                result._names.Add(n.Name);
            }
        }

        result.Main = OnnxGraph.Import(result, null, null, "", graph);
        if (measuredShapes is not null)
        {
            result.AddMeasuredShapes(measuredShapes);
        }

        return result;
    }

    /// <summary>Writes the model back; with no edit the result serializes to the same bytes as the source.</summary>
    public OnnxModel Export()
    {
        var proto = _template.Clone();
        proto.Graph = Main.Export();
        return OnnxModel.FromProto(proto, Source.Name, Source.BaseDirectory, Source.SourcePath);
    }

    /// <summary>The version of <paramref name="domain"/>'s operator set the model imports ("" = default ONNX domain), or 0.</summary>
    public long OpsetVersion(string domain = "")
    {
        foreach (var opset in _template.OpsetImport)
        {
            if (opset.Domain == domain || (domain.Length == 0 && opset.Domain == "ai.onnx"))
            {
                return opset.Version;
            }
        }

        return 0;
    }

    /// <summary>Every graph of the model: the main graph first, then subgraphs depth first.</summary>
    public IEnumerable<OnnxGraph> AllGraphs()
    {
        var stack = new Stack<OnnxGraph>();
        stack.Push(Main);
        while (stack.Count > 0)
        {
            var g = stack.Pop();
            yield return g;
            foreach (var node in g.Nodes.Reverse())
            {
                foreach (var sub in node.Subgraphs.Reverse())
                {
                    stack.Push(sub);
                }
            }
        }
    }

    /// <summary>Adds shapes measured outside the model (e.g. by running it once), used where the model declares none.</summary>
    public void AddMeasuredShapes(IReadOnlyDictionary<string, long[]> shapes)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        foreach (var (name, shape) in shapes)
        {
            _measuredShapes[name] = shape;
        }
    }

    /// <summary>Every measured shape, by value name.</summary>
    public IReadOnlyDictionary<string, long[]> MeasuredShapes => _measuredShapes;

    /// <summary>The measured shape of <paramref name="name"/>, or null.</summary>
    public IReadOnlyList<long>? MeasuredShape(string name) => _measuredShapes.TryGetValue(name, out var shape) ? shape : null;

    /// <summary>A value or node name not used anywhere in the model: <paramref name="stem"/> itself if free, else stem_1, stem_2 …</summary>
    public string UniqueName(string stem)
    {
        ArgumentNullException.ThrowIfNull(stem);
        if (_names.Add(stem))
        {
            return stem;
        }

        for (var i = 1; ; i++)
        {
            var candidate = $"{stem}_{i}";
            if (_names.Add(candidate))
            {
                return candidate;
            }
        }
    }

    /// <summary>Reads an initializer as float32 values, from inline or external storage.</summary>
    public float[] ReadFloats(TensorProto tensor) => TensorData.ReadFloats(tensor, Source.BaseDirectory, Source.Name);

    /// <summary>Removes every node not needed by the main graph's outputs (across subgraphs), then unused initializers;
    /// graph inputs and outputs are never touched. Returns how many nodes and initializers were removed.</summary>
    public int Cleanup()
    {
        var live = new HashSet<Node>();
        OnnxGraph.MarkLive(Main, live);
        return Main.Sweep(live);
    }

    /// <summary>Removes dead code, then sorts every graph topologically.</summary>
    public void CleanupAndSort()
    {
        Cleanup();
        Main.TopologicalSort();
    }

    private void CollectNames(GraphProto graph)
    {
        _names.Add(graph.Name);
        foreach (var i in graph.Input)
        {
            _names.Add(i.Name);
        }

        foreach (var t in graph.Initializer)
        {
            _names.Add(t.Name);
        }

        foreach (var s in graph.SparseInitializer)
        {
            _names.Add(s.Values?.Name ?? "");
        }

        foreach (var n in graph.Node)
        {
            _names.Add(n.Name);
            _names.UnionWith(n.Output);
            foreach (var a in n.Attribute)
            {
                if (a.G is not null)
                {
                    CollectNames(a.G);
                }

                foreach (var g in a.Graphs)
                {
                    CollectNames(g);
                }
            }
        }
    }
}
