using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;

namespace OnnxFactorize.Passes;

/// <summary>Progress of a factorization run: which candidate node is being decided.</summary>
public readonly record struct FactorizeProgress(int Done, int Total, string NodeName);

/// <summary>The outcome of a run: the rewritten model (the source itself when nothing changed) and a decision per candidate.</summary>
public sealed record FactorizationResult(OnnxModel Model, IReadOnlyList<FactorizationDecision> Decisions)
{
    /// <summary>True when at least one node was factorized.</summary>
    public bool Changed => Decisions.Any(d => d.Status == DecisionStatus.Factorized);
}

/// <summary>Runs the factorization passes over every graph of a model (subgraphs included), then removes what the rewrites
/// left dead and sorts the graphs. A model in which no node is factorized comes back unchanged, byte for byte.</summary>
public static class Factorizer
{
    /// <summary>The passes used when none are given: one per operator type.</summary>
    public static IReadOnlyList<IFactorizationPass> DefaultPasses { get; } = [new GemmSvdPass(), new MatMulSvdPass(), new ConvFactorizationPass()];

    /// <summary>Factorizes <paramref name="model"/> with <paramref name="options"/>; the input model is not modified.
    /// <paramref name="measuredShapes"/> (e.g. from <c>ModelCost.ValueShapes</c>) lets FLOPs be counted where the model
    /// declares no intermediate shapes; <paramref name="svdCache"/> shares decompositions with other runs.</summary>
    public static FactorizationResult Run(OnnxModel model, FactorizeOptions options, IProgress<FactorizeProgress>? progress = null,
        CancellationToken cancellationToken = default, IReadOnlyList<IFactorizationPass>? passes = null,
        IReadOnlyDictionary<string, long[]>? measuredShapes = null, SvdCache? svdCache = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        passes ??= DefaultPasses;
        var graph = ModelGraph.Import(model, measuredShapes);

        var context = new PassContext(graph, options, cancellationToken, svdCache);
        var candidates = Candidates(graph, options, passes);
        var decisions = new List<FactorizationDecision>();
        for (var i = 0; i < candidates.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (node, pass) = candidates[i];
            var label = PassContext.Label(node);
            progress?.Report(new FactorizeProgress(i, candidates.Count, label));
            if (!options.IncludesName(node.Name.Length > 0 ? node.Name : label))
            {
                continue;
            }

            decisions.Add(pass.Apply(node, context));
        }

        progress?.Report(new FactorizeProgress(candidates.Count, candidates.Count, ""));
        if (!decisions.Any(d => d.Status == DecisionStatus.Factorized))
        {
            return new FactorizationResult(model, decisions);
        }

        graph.CleanupAndSort();
        return new FactorizationResult(graph.Export(), decisions);
    }

    /// <summary>Every node of an enabled op type in the default domain, in graph order (main graph, then subgraphs).</summary>
    public static IReadOnlyList<(Node Node, IFactorizationPass Pass)> Candidates(ModelGraph graph, FactorizeOptions options,
        IReadOnlyList<IFactorizationPass> passes)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(passes);
        var result = new List<(Node, IFactorizationPass)>();
        foreach (var g in graph.AllGraphs().ToList())
        {
            foreach (var node in g.Nodes.ToList())
            {
                if (!node.IsDefaultDomain || !options.IncludesOp(node.OpType))
                {
                    continue;
                }

                var pass = passes.FirstOrDefault(p => p.OpType == node.OpType);
                if (pass is not null)
                {
                    result.Add((node, pass));
                }
            }
        }

        return result;
    }
}
