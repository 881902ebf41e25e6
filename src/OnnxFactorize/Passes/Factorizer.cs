using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;

namespace OnnxFactorize.Passes;

/// <summary>Progress of a factorization run: which candidate node is being decided.</summary>
public readonly record struct FactorizeProgress(int Done, int Total, string NodeName)
{
    /// <summary>Work of the nodes decided so far, in <see cref="WorkUnits"/> (decomposition cost); 0 when not reported.</summary>
    public double WorkDone { get; init; }

    /// <summary>Work of all candidate nodes, in <see cref="WorkUnits"/>; 0 when not reported (then count nodes).</summary>
    public double WorkTotal { get; init; }
}

/// <summary>The outcome of a run: the rewritten model (the source itself when nothing changed) and a decision per candidate.</summary>
public sealed record FactorizationResult(OnnxModel Model, IReadOnlyList<FactorizationDecision> Decisions)
{
    /// <summary>True when at least one node was factorized.</summary>
    public bool Changed => Decisions.Any(d => d.Status == DecisionStatus.Factorized);
}

/// <summary>A candidate node and the rules that may factorize it (those of its op type that the options allow).</summary>
public sealed record NodeCandidate(Node Node, IReadOnlyList<IFactorizationRule> Rules)
{
    /// <summary>The node's label in decisions and reports.</summary>
    public string Label => PassContext.Label(Node);
}

/// <summary>What <see cref="Factorizer.Decide"/> concluded for one node: the cheapest plan, or the skip decision.</summary>
public sealed record NodeOutcome(FactorizationPlan? Plan, FactorizationDecision Decision);

/// <summary>Runs the factorization rules over every graph of a model (subgraphs included): per candidate node, match, plan
/// every allowed rule and emit the cheapest; then removes what the rewrites left dead and sorts the graphs. A model in which
/// no node is factorized comes back unchanged, byte for byte.</summary>
public static partial class Factorizer
{
    /// <summary>The rules used when none are given: svd for Gemm and MatMul; tucker2, spatial-svd, depthwise and 1×1 svd for Conv.</summary>
    public static IReadOnlyList<IFactorizationRule> DefaultRules { get; } =
        [new GemmSvdRule(), new MatMulSvdRule(), new ConvTucker2Pass(), new ConvSpatialSvdPass(), new ConvDepthwiseSeparablePass(), new ConvPointwiseSvdPass()];

    /// <summary>Factorizes <paramref name="model"/> with <paramref name="options"/>; the input model is not modified.
    /// <paramref name="measuredShapes"/> (e.g. from <c>ModelCost.ValueShapes</c>) lets FLOPs be counted where the model
    /// declares no intermediate shapes; <paramref name="svdCache"/> shares decompositions with other runs.</summary>
    public static FactorizationResult Run(OnnxModel model, FactorizeOptions options, IProgress<FactorizeProgress>? progress = null,
        CancellationToken cancellationToken = default, IReadOnlyList<IFactorizationRule>? rules = null,
        IReadOnlyDictionary<string, long[]>? measuredShapes = null, SvdCache? svdCache = null) =>
        Run(model, options, progress, cancellationToken, rules, measuredShapes, svdCache, inputStatistics: null);

    /// <summary><see cref="Run(OnnxModel, FactorizeOptions, IProgress{FactorizeProgress}?, CancellationToken, IReadOnlyList{IFactorizationRule}?, IReadOnlyDictionary{string, long[]}?, SvdCache?)"/>
    /// with <paramref name="inputStatistics"/>, the calibration statistics of data-aware factorization (<see cref="PassContext.InputStatistics"/>).</summary>
    internal static FactorizationResult Run(OnnxModel model, FactorizeOptions options, IProgress<FactorizeProgress>? progress,
        CancellationToken cancellationToken, IReadOnlyList<IFactorizationRule>? rules,
        IReadOnlyDictionary<string, long[]>? measuredShapes, SvdCache? svdCache,
        IReadOnlyDictionary<string, GramAccumulator>? inputStatistics, IReadOnlyDictionary<GramAccumulator, ReconstructionTargets>? targets = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var graph = ModelGraph.Import(model, measuredShapes);
        var context = new PassContext(graph, options, cancellationToken, svdCache)
        {
            InputStatistics = inputStatistics ?? new Dictionary<string, GramAccumulator>(),
            Targets = targets ?? new Dictionary<GramAccumulator, ReconstructionTargets>(),
        };
        var candidates = Candidates(graph, options, rules ?? DefaultRules);
        // Every node is decided (decomposed and priced) on the untouched graph, in parallel, then emitted in graph order.
        var outcomes = DecideAll(candidates, context, progress);
        var decisions = outcomes.Select(o => o.Plan is { } plan ? plan.Emit() : o.Decision).ToList();
        return Finish(model, graph, decisions);
    }

    /// <summary>Emits <paramref name="plans"/> (planned on <paramref name="graph"/>) and exports the model; the skip decisions
    /// are recorded as they are. Used by planners that priced ranks through <see cref="Decide"/> and emit only the final answer.</summary>
    public static FactorizationResult Emit(OnnxModel source, ModelGraph graph, IEnumerable<FactorizationPlan> plans, IEnumerable<FactorizationDecision>? skipped = null)
    {
        ArgumentNullException.ThrowIfNull(plans);
        var decisions = plans.Select(p => p.Emit()).Concat(skipped ?? []).ToList();
        return Finish(source, graph, decisions);
    }

    private static FactorizationResult Finish(OnnxModel source, ModelGraph graph, List<FactorizationDecision> decisions)
    {
        if (!decisions.Any(d => d.Status == DecisionStatus.Factorized))
        {
            return new FactorizationResult(source, decisions);
        }

        graph.CleanupAndSort();
        return new FactorizationResult(graph.Export(), decisions);
    }

    /// <summary>Every node of an enabled op type in the default domain that some rule serves and the name filters keep, in
    /// graph order (main graph, then subgraphs), with the rules that may factorize it.</summary>
    public static IReadOnlyList<NodeCandidate> Candidates(ModelGraph graph, FactorizeOptions options, IReadOnlyList<IFactorizationRule>? rules = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(options);
        rules ??= DefaultRules;
        var auto = options.Methods.Contains("auto", StringComparer.Ordinal);
        var result = new List<NodeCandidate>();
        foreach (var g in graph.AllGraphs().ToList())
        {
            foreach (var node in g.Nodes.ToList())
            {
                if (!node.IsDefaultDomain || !options.IncludesOp(node.OpType))
                {
                    continue;
                }

                var ofType = rules.Where(r => r.OpType == node.OpType).ToList();
                if (ofType.Count == 0)
                {
                    continue;
                }

                var label = PassContext.Label(node);
                if (!options.IncludesName(node.Name.Length > 0 ? node.Name : label))
                {
                    continue;
                }

                var allowed = ofType.Where(r => auto || r.AlwaysEnabled || options.Methods.Contains(r.Method, StringComparer.Ordinal)).ToList();
                result.Add(new NodeCandidate(node, allowed.Count > 0 ? allowed : ofType));
            }
        }

        return result;
    }

    /// <summary>Matches, plans every allowed rule for <paramref name="policy"/> and picks the plan with the fewest FLOPs (then
    /// parameters); the graph is not touched. With auto, every rule is held to the same weight error.</summary>
    public static NodeOutcome Decide(NodeCandidate candidate, PassContext context, RankPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(context);
        var rules = candidate.Rules;
        var skipMethod = rules.Count == 1 ? rules[0].Method : "";
        var match = rules[0].Match(candidate.Node, context);
        if (match.Candidate is not { } subject)
        {
            return new NodeOutcome(null, match.Skip! with { Method = skipMethod });
        }

        var applicable = rules.Where(r => r.Unsupported(subject) is null).ToList();
        if (applicable.Count == 0)
        {
            return new NodeOutcome(null, subject.SkipCounted(skipMethod, string.Join("; ", rules.Select(r => r.Unsupported(subject)))));
        }

        var auto = context.Options.Methods.Contains("auto", StringComparer.Ordinal);
        var target = applicable[0].Target(subject, policy, auto);
        var (plans, rejected) = PlanAll(applicable, subject, target, context.CancellationToken);

        if (plans.Count == 0)
        {
            return new NodeOutcome(null, subject.SkipCounted(skipMethod, string.Join("; ", rejected)));
        }

        var chosen = plans.OrderBy(p => p.Decision.FlopsAfter).ThenBy(p => p.Decision.ParamsAfter).First();
        var c = chosen.Decision;
        var why = c.Reason;
        if (plans.Count + rejected.Count > 1)
        {
            var others = plans.Where(p => p != chosen).Select(p => $"{p.Decision.Method} {p.Decision.FlopsAfter} FLOPs (error {p.Decision.WeightRelError:G3})").Concat(rejected);
            var goal = target.MaxError is { } e ? $"every method held to weight error ≤ {e:G4}; " : "";
            why = $"{goal}chose {c.Method} at {c.FlopsAfter} FLOPs (error {c.WeightRelError:G3}), the fewest; others: {string.Join("; ", others)}. {c.Reason}";
        }

        return new NodeOutcome(chosen.WithReason(why + subject.ReasonSuffix), chosen.Decision);
    }
}
