using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Planning;

/// <summary>A candidate's ladder measured on the part of the model its weight can change: the model cut just before the
/// node. <see cref="Upstream"/> is the original pruned to what computes the cut (the <see cref="Frontier"/>: every value
/// the node and the nodes after it read from before it); <see cref="Downstream"/> is the node and everything after it, the
/// frontier and the node's weight as graph inputs. The frontier is computed once per sample; each rung then runs only the
/// downstream part fed Ŵ (<see cref="FactorizationPlan.Reconstruct"/>), which gives the same outputs as the whole weight
/// probe up to float rounding.</summary>
internal sealed class DownstreamProbe
{
    private readonly OnnxModel _model;
    private readonly FactorizationCandidate _candidate;
    private readonly int _nodeIndex;
    private readonly HashSet<int> _after;

    private DownstreamProbe(OnnxModel model, FactorizationCandidate candidate, int nodeIndex, HashSet<int> after, byte[] upstream, IReadOnlyList<string> frontier,
        double nodeFraction)
    {
        _model = model;
        _candidate = candidate;
        _nodeIndex = nodeIndex;
        _after = after;
        Upstream = upstream;
        Frontier = frontier;
        NodeFraction = nodeFraction;
    }

    /// <summary>The original model with the frontier as its only outputs, pruned to what computes them.</summary>
    public byte[] Upstream { get; }

    /// <summary>Names of the values computed before the node that the downstream part reads.</summary>
    public IReadOnlyList<string> Frontier { get; }

    /// <summary>Share of the model's nodes in the downstream part (what one rung evaluation costs relative to the whole model).</summary>
    public double NodeFraction { get; }

    /// <summary>The probe for <paramref name="candidate"/> (matched on a graph imported from <paramref name="model"/>, main
    /// graph), or null when cutting saves nothing or the graph does not allow it: the node reads only graph inputs
    /// (nothing before it to skip), a model output does not depend on the node, or a node after it has subgraphs or a
    /// consumer lives in one.</summary>
    public static DownstreamProbe? TryBuild(OnnxModel model, FactorizationCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(candidate);
        var main = candidate.Node.Graph;
        if (main.Parent is not null)
        {
            return null;
        }

        // The node and every node that (transitively) reads its outputs.
        var order = main.Nodes.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
        var after = new HashSet<Node>();
        var work = new Stack<Node>([candidate.Node]);
        while (work.Count > 0)
        {
            var node = work.Pop();
            if (!after.Add(node))
            {
                continue;
            }

            if (node.Subgraphs.Count > 0)
            {
                return null;
            }

            foreach (var consumer in node.Outputs.SelectMany(o => o.Consumers))
            {
                if (consumer.Graph != main)
                {
                    return null;
                }

                work.Push(consumer);
            }
        }

        if (main.Outputs.Any(o => o.Producer is not { } p || !after.Contains(p)))
        {
            return null;
        }

        var frontier = new List<Value>();
        foreach (var node in after)
        {
            foreach (var input in node.Inputs)
            {
                if (input is null || (input.Producer is { } p && after.Contains(p)) || input.IsGraphInput || input.Initializer is not null
                    || PassContext.ConstantTensor(input) is not null || frontier.Contains(input))
                {
                    continue;
                }

                frontier.Add(input);
            }
        }

        if (frontier.Count == 0)
        {
            return null;
        }

        var names = frontier.Select(v => v.Name).Order(StringComparer.Ordinal).ToList();
        var nodeIndex = order[candidate.Node];
        var afterIndices = after.Select(n => order[n]).ToHashSet();

        // Upstream: the frontier as the only outputs; Cleanup drops every node the frontier does not need.
        var up = ModelGraph.Import(model);
        foreach (var output in up.Main.Outputs.ToList())
        {
            up.Main.RemoveOutput(output);
        }

        foreach (var name in names)
        {
            up.Main.AddOutput(up.Main.Find(name)!);
        }

        up.Cleanup();

        return new DownstreamProbe(model, candidate, nodeIndex, afterIndices, up.Export().ToBytes(), names, (double)after.Count / main.Nodes.Count);
    }

    /// <summary>The node and every node after it: inputs the model's own inputs, the frontier (of the element types
    /// <paramref name="elementTypes"/> the upstream part produces, ONNX numbering; <see cref="Downstream.CutInputs"/> maps
    /// each frontier value to its input) and the weight (<see cref="Downstream.WeightInput"/>); outputs the model's outputs.</summary>
    public Downstream BuildDownstream(IReadOnlyDictionary<string, int> elementTypes)
    {
        var down = ModelGraph.Import(_model);
        var nodes = down.Main.Nodes.ToList();
        var cut = new Dictionary<string, Value>(StringComparer.Ordinal);
        foreach (var name in Frontier)
        {
            // Shapes are left to the feeds (a last batch may be smaller; samples may differ in size).
            var input = down.Main.AddInput(name + "__cut", elementTypes[name], []);
            input.Info!.Type.TensorType.Shape = null;
            cut[name] = input;
        }

        foreach (var index in _after)
        {
            var node = nodes[index];
            for (var k = 0; k < node.Inputs.Count; k++)
            {
                if (node.Inputs[k] is { } v && cut.TryGetValue(v.Name, out var replacement))
                {
                    node.SetInput(k, replacement);
                }
            }
        }

        var weightType = PassContext.ConstantTensor(_candidate.Weight)!.DataType;
        var weight = down.Main.AddInput(_candidate.Label + "__weight", weightType, _candidate.WeightShape);
        nodes[_nodeIndex].SetInput(_candidate.WeightIndex, weight);
        down.Cleanup();
        return new Downstream(down.Export().ToBytes(), cut.ToDictionary(c => c.Key, c => c.Value.Name, StringComparer.Ordinal), weight.Name);
    }

    /// <summary>The downstream model and the names of its inputs: frontier value → input, and the weight's input.</summary>
    public sealed record Downstream(byte[] Model, IReadOnlyDictionary<string, string> CutInputs, string WeightInput);
}
