using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using OnnxFactorize.Runtime;

namespace OnnxFactorize.Validation;

/// <summary>FLOPs of one Gemm, MatMul or Conv node.</summary>
public sealed record NodeCost(string NodeName, string OpType, long Flops);

/// <summary>Parameter and FLOP count of a model.</summary>
public sealed record ModelCostReport
{
    /// <summary>Sum of initializer element counts (main graph and subgraphs).</summary>
    public required long Parameters { get; init; }

    /// <summary>Sum of Gemm/MatMul/Conv FLOPs in the main graph (2 per multiply-add).</summary>
    public required long Flops { get; init; }

    /// <summary>Per-node FLOPs, in graph order.</summary>
    public required IReadOnlyList<NodeCost> Nodes { get; init; }

    /// <summary>Whether some shapes had to be read from an ONNX Runtime run because the model does not declare them.</summary>
    public bool ShapesFromRuntime { get; init; }
}

/// <summary>Counts parameters and Gemm/MatMul/Conv FLOPs of a model, from static shapes or, where those are missing, from one ONNX Runtime run.</summary>
public static class ModelCost
{
    private static readonly string[] CountedOps = ["Gemm", "MatMul", "Conv"];

    /// <summary>Sum of initializer element counts in the graph and its subgraphs (sparse initializers count their dense size).</summary>
    public static long CountParameters(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return CountParameters(model.Graph);
    }

    /// <summary>Parameters and FLOPs; symbolic dims are taken from <paramref name="dims"/> (name=value), and shapes the model does not declare are read from one ORT run.</summary>
    public static ModelCostReport Analyze(ModelProto model, IReadOnlyDictionary<string, long>? dims = null) =>
        Analyze(OnnxModel.FromProto(model ?? throw new ArgumentNullException(nameof(model))), dims);

    /// <summary>Parameters and FLOPs of a loaded model; its external data stays on disk (the shape run replaces large
    /// weights by constants of their shape, see <see cref="ShapeProbe"/>).</summary>
    public static ModelCostReport Analyze(OnnxModel loaded, IReadOnlyDictionary<string, long>? dims = null)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        var model = loaded.Proto;
        dims ??= new Dictionary<string, long>();
        var graph = model.Graph;
        var shapes = StaticShapes(graph, dims);
        var counted = graph.Node.Where(n => CountedOps.Contains(n.OpType) && n.Domain is "" or "ai.onnx").ToList();
        var missing = counted.SelectMany(n => NeededNames(n)).Where(name => name.Length > 0 && !shapes.ContainsKey(name)).Distinct().ToList();
        var fromRuntime = false;
        if (missing.Count > 0)
        {
            foreach (var (name, shape) in RuntimeShapes(loaded, missing, dims))
            {
                shapes[name] = shape;
            }

            fromRuntime = true;
        }

        var nodes = new List<NodeCost>();
        for (var i = 0; i < counted.Count; i++)
        {
            var n = counted[i];
            var name = n.Name.Length > 0 ? n.Name : $"{n.OpType}_{graph.Node.IndexOf(n)}";
            nodes.Add(new NodeCost(name, n.OpType, NodeFlops(n, shapes)));
        }

        return new ModelCostReport { Parameters = CountParameters(graph), Flops = nodes.Sum(n => n.Flops), Nodes = nodes, ShapesFromRuntime = fromRuntime };
    }

    /// <summary>Shapes of the inputs and outputs of the main graph's Gemm, MatMul and Conv nodes: declared ones, and the rest
    /// measured by one ONNX Runtime run on random inputs (symbolic dims bound from <paramref name="dims"/>). The passes
    /// use them to count FLOPs where the model declares no intermediate shapes.</summary>
    /// <exception cref="OnnxFactorizeException">A symbolic dim is unbound or the model cannot run.</exception>
    public static IReadOnlyDictionary<string, long[]> ValueShapes(ModelProto model, IReadOnlyDictionary<string, long>? dims = null) =>
        ValueShapes(OnnxModel.FromProto(model ?? throw new ArgumentNullException(nameof(model))), dims);

    /// <summary>As <see cref="ValueShapes(ModelProto, IReadOnlyDictionary{string, long}?)"/> for a loaded model, whose
    /// external data is never read (large weights are replaced by constants of their shape for the run).</summary>
    public static IReadOnlyDictionary<string, long[]> ValueShapes(OnnxModel loaded, IReadOnlyDictionary<string, long>? dims = null)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        var model = loaded.Proto;
        dims ??= new Dictionary<string, long>();
        var shapes = StaticShapes(model.Graph, dims);
        var wanted = model.Graph.Node.Where(n => CountedOps.Contains(n.OpType) && n.Domain is "" or "ai.onnx")
            .SelectMany(n => n.Input.Concat(n.Output))
            .Where(name => name.Length > 0 && !shapes.ContainsKey(name))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (wanted.Count > 0)
        {
            foreach (var (name, shape) in RuntimeShapes(loaded, wanted, dims))
            {
                shapes[name] = shape;
            }
        }

        return shapes;
    }

    private static long CountParameters(GraphProto graph)
    {
        long total = graph.Initializer.Sum(t => TensorData.ElementCountOf(t.Dims))
            + graph.SparseInitializer.Sum(s => TensorData.ElementCountOf(s.Dims));
        foreach (var node in graph.Node)
        {
            // Exporters such as paddle2onnx store every weight as a Constant node's value tensor, not as an initializer.
            if (node.OpType == "Constant" && node.Domain is "" or "ai.onnx" && node.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } constant)
            {
                total += TensorData.ElementCountOf(constant.Dims);
            }

            foreach (var a in node.Attribute)
            {
                total += a.G is { } g ? CountParameters(g) : 0;
                total += a.Graphs.Sum(CountParameters);
            }
        }

        return total;
    }

    private static IEnumerable<string> NeededNames(NodeProto n)
    {
        return n.OpType switch
        {
            "Conv" => [n.Input[1], n.Output[0]],
            _ => [n.Input[0], n.Output[0]],
        };
    }

    private static long NodeFlops(NodeProto n, Dictionary<string, long[]> shapes)
    {
        var y = shapes[n.Output[0]];
        return n.OpType switch
        {
            "Gemm" => FlopModel.Gemm(shapes[n.Input[0]], y, n.Attribute.Any(a => a.Name == "transA" && a.I != 0)),
            "MatMul" => FlopModel.MatMul(shapes[n.Input[0]], y),
            _ => FlopModel.Conv(shapes[n.Input[1]], y),
        };
    }

    private static Dictionary<string, long[]> StaticShapes(GraphProto graph, IReadOnlyDictionary<string, long> dims)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer)
        {
            shapes[t.Name] = [.. t.Dims];
        }

        foreach (var vi in graph.Input.Concat(graph.ValueInfo).Concat(graph.Output))
        {
            if (!shapes.ContainsKey(vi.Name) && StaticShape(vi, dims) is { } s)
            {
                shapes[vi.Name] = s;
            }
        }

        return shapes;
    }

    private static long[]? StaticShape(ValueInfoProto vi, IReadOnlyDictionary<string, long> dims)
    {
        if (vi.Type?.TensorType?.Shape is not { } shape)
        {
            return null;
        }

        var result = new long[shape.Dim.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var d = shape.Dim[i];
            if (d.HasDimValue && d.DimValue > 0)
            {
                result[i] = d.DimValue;
            }
            else if (d.HasDimParam && dims.TryGetValue(d.DimParam, out var bound))
            {
                result[i] = bound;
            }
            else
            {
                return null;
            }
        }

        return result;
    }

    // Adds the wanted intermediates as extra graph outputs, runs once on random inputs, and reads the actual shapes.
    private static Dictionary<string, long[]> RuntimeShapes(OnnxModel model, IReadOnlyList<string> names, IReadOnlyDictionary<string, long> dims)
    {
        // The probe is an edit of the graph (never of the protobuf): the wanted intermediates become extra outputs.
        var probe = ModelGraph.Import(model);
        foreach (var name in names)
        {
            if (probe.Main.Find(name) is { Producer: not null } value && value.Graph == probe.Main)
            {
                probe.Main.AddOutput(value);
            }
        }

        // Shapes do not depend on weight values: the weights become ConstantOfShape nodes, so the run neither reads external
        // data nor holds a second copy of the model's weights.
        var exported = probe.Export();
        ShapeProbe.ReplaceWeights(exported.Proto);
        var bytes = exported.ToBytes();
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        var session = OrtSessions.Open(bytes, options, "Cannot count FLOPs",
            $"to measure the shapes it does not declare ({string.Join(", ", names.Take(3).Select(n => $"'{n}'"))})");

        using (session)
        {
            var inputs = ModelInput.FromSession(session);
            var sample = SampleLoader.Generate(inputs, new InputOptions { Dims = dims })[0];
            var shapes = sample.Inputs.ToDictionary(t => t.Name, t => t.Shape.ToArray(), StringComparer.Ordinal);
            var values = sample.Inputs.Select(t => t.ToOrtValue()).ToList();
            try
            {
                var outputNames = session.OutputNames.ToList();
                using var runOptions = new RunOptions();
                using var results = session.Run(runOptions, session.InputNames, values, outputNames);
                for (var i = 0; i < outputNames.Count; i++)
                {
                    if (results.ElementAt(i).IsTensor)
                    {
                        shapes[outputNames[i]] = results.ElementAt(i).GetTensorTypeAndShape().Shape;
                    }
                }
            }
            catch (OnnxRuntimeException e)
            {
                throw new OnnxFactorizeException($"Cannot count FLOPs: the model declares no shapes for {string.Join(", ", names.Take(3).Select(n => $"'{n}'"))} and running it on random inputs failed ({OrtSessions.FirstLine(e.Message)}).", e);
            }
            finally
            {
                values.ForEach(v => v.Dispose());
            }

            return shapes;
        }
    }

}
