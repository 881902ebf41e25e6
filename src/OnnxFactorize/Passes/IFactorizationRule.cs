using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>One factorization method for one operator type, in three steps: <see cref="Match"/> (cheap checks first, then
/// the constant weight), <see cref="Plan"/> (decompose and price a rank: parameters, FLOPs, predicted weight error and the
/// factors, with the graph untouched) and <see cref="FactorizationPlan.Emit"/> (rewrite the graph from a plan). Several
/// rules may serve one operator type; <see cref="Factorizer"/> plans every allowed one and emits the cheapest.</summary>
public interface IFactorizationRule
{
    /// <summary>Operator type the rule handles, e.g. "Gemm".</summary>
    string OpType { get; }

    /// <summary>Method name as in <see cref="FactorizeOptions.Methods"/>, e.g. "tucker2".</summary>
    string Method { get; }

    /// <summary>Whether the rule is used whatever <see cref="FactorizeOptions.Methods"/> lists (the only method of its op type).</summary>
    bool AlwaysEnabled { get; }

    /// <summary>Step 1: is <paramref name="node"/> a candidate (its weight, geometry and cost), or why not. Rules of one
    /// operator type share their candidate, so the weight is read once.</summary>
    RuleMatch Match(Node node, PassContext context);

    /// <summary>Why this rule cannot handle a candidate that matched its operator type, or null when it can.</summary>
    string? Unsupported(FactorizationCandidate candidate);

    /// <summary>The target the rules of this operator type are held to for <paramref name="candidate"/> under
    /// <paramref name="policy"/>; with <paramref name="auto"/>, a common weight error so that only cost decides.</summary>
    RankTarget Target(FactorizationCandidate candidate, RankPolicy policy, bool auto);

    /// <summary>Step 2: decomposes and prices the candidate for <paramref name="target"/>; null with a reason when no rank
    /// saves anything. Never touches the graph.</summary>
    FactorizationPlan? Plan(FactorizationCandidate candidate, RankTarget target, out string reason);
}

/// <summary>What a rule is asked to meet: a rank policy applied to its own spectra, or, for auto, a maximum relative weight
/// error; <see cref="Policy"/> is then the energy policy equivalent to it.</summary>
public sealed record RankTarget(RankPolicy Policy, double? MaxError)
{
    /// <summary>The target of a plain policy.</summary>
    public static RankTarget Of(RankPolicy policy) => new(policy, null);

    /// <summary>A target holding the weight error to at most <paramref name="maxError"/>.</summary>
    public static RankTarget ForError(double maxError) =>
        new(RankPolicy.Energy(Math.Clamp(1 - maxError * maxError, 1e-12, 1.0)), maxError);
}

/// <summary>The outcome of <see cref="IFactorizationRule.Match"/>: a candidate, or the skip decision saying why not.</summary>
public sealed record RuleMatch(FactorizationCandidate? Candidate, FactorizationDecision? Skip)
{
    /// <summary>A matched candidate.</summary>
    public static RuleMatch Of(FactorizationCandidate candidate) => new(candidate, null);

    /// <summary>Not a candidate, with the recorded reason.</summary>
    public static RuleMatch Skipped(FactorizationDecision skip) => new(null, skip);
}

/// <summary>A node that matched: its constant weight (values decoded once), the weight's shape, and its cost as it is.</summary>
public abstract class FactorizationCandidate
{
    private protected FactorizationCandidate(Node node, PassContext context, Value weight, int weightIndex, float[] values, IReadOnlyList<long> weightShape)
    {
        Node = node;
        Context = context;
        Weight = weight;
        WeightIndex = weightIndex;
        Values = values;
        WeightShape = weightShape;
        Label = PassContext.Label(node);
    }

    /// <summary>The node.</summary>
    public Node Node { get; }

    /// <summary>The context of the run (options, caches, cancellation).</summary>
    public PassContext Context { get; }

    /// <summary>The node's label in decisions and reports.</summary>
    public string Label { get; }

    /// <summary>The constant weight value.</summary>
    public Value Weight { get; }

    /// <summary>Which input of the node is the weight.</summary>
    public int WeightIndex { get; }

    /// <summary>The weight's values as float, in the stored layout.</summary>
    public float[] Values { get; }

    /// <summary>The weight's stored shape.</summary>
    public IReadOnlyList<long> WeightShape { get; }

    /// <summary>Weight parameters as stored.</summary>
    public long ParamsBefore => Values.Length;

    /// <summary>FLOPs of the node as it is (2 per multiply-add).</summary>
    public abstract long FlopsBefore { get; }

    /// <summary>Appended to a factorized decision's reason (e.g. that FLOPs are per output position).</summary>
    internal virtual string ReasonSuffix => "";

    /// <summary>A skip decision for this candidate that keeps its counted parameters and FLOPs.</summary>
    internal FactorizationDecision SkipCounted(string method, string reason) => PassContext.Skipped(Node, method, reason, WeightShape) with
    {
        ParamsBefore = ParamsBefore,
        ParamsAfter = ParamsBefore,
        FlopsBefore = FlopsBefore,
        FlopsAfter = FlopsBefore,
    };
}

/// <summary>A priced factorization of one node at one rank (or pair of ranks): the decision it would record, and the factors
/// held until <see cref="Emit"/> rewrites the graph. Planning a rank never changes the graph; only <see cref="Emit"/> does.</summary>
public sealed class FactorizationPlan
{
    private static readonly AsyncLocal<StrongBox> EmitCounter = new();
    private readonly Func<Node> _emit;
    private readonly Func<float[]> _reconstruct;

    internal FactorizationPlan(FactorizationCandidate candidate, FactorizationDecision decision, Func<Node> emit, Func<float[]> reconstruct)
    {
        Candidate = candidate;
        Decision = decision;
        _emit = emit;
        _reconstruct = reconstruct;
    }

    /// <summary>The candidate planned.</summary>
    public FactorizationCandidate Candidate { get; }

    /// <summary>The decision recorded when the plan is emitted: method, ranks, parameters and FLOPs after, weight error.</summary>
    public FactorizationDecision Decision { get; private set; }

    /// <summary>The factorized weight Ŵ in the weight's stored layout (what the chain computes, as one dense tensor): feeding
    /// it in place of W gives the factorized node's outputs, which lets a planner measure a rank without rewriting a model.</summary>
    public float[] Reconstruct() => _reconstruct();

    /// <summary>Step 3: rewrites the graph, the node's output now produced by the factorized chain; returns the decision.</summary>
    public FactorizationDecision Emit()
    {
        var last = _emit();
        Candidate.Node.Graph.TransferOutput(Candidate.Node, 0, last, 0);
        if (EmitCounter.Value is { } counter)
        {
            Interlocked.Increment(ref counter.Count);
        }

        return Decision;
    }

    internal FactorizationPlan WithReason(string reason)
    {
        Decision = Decision with { Reason = reason };
        return this;
    }

    /// <summary>Counts <see cref="Emit"/> calls made on this async flow until the returned scope is disposed (tests).</summary>
    internal static EmitCount CountEmits()
    {
        var box = new StrongBox();
        EmitCounter.Value = box;
        return new EmitCount(box);
    }

    internal sealed class StrongBox
    {
        public int Count;
    }

    /// <summary>A running count of emits.</summary>
    internal sealed class EmitCount(StrongBox box) : IDisposable
    {
        public int Count => Volatile.Read(ref box.Count);

        public void Dispose() => EmitCounter.Value = null!;
    }
}
