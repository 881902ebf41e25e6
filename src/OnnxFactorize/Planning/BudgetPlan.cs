using OnnxFactorize.Decomposition;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Planning;

/// <summary>Phases of a budget planning run, in order.</summary>
public enum PlanPhase
{
    /// <summary>Loading the model and calibration inputs, running the original once.</summary>
    Reference,

    /// <summary>The time estimate of the search, shown before it starts (detail: planned evaluations × measured cost).</summary>
    Estimate,

    /// <summary>Decomposing each weight once and deriving its rank ladder.</summary>
    Ladder,

    /// <summary>Measuring the end-to-end error with one node factorized at each ladder rank.</summary>
    Sensitivity,

    /// <summary>Timing each factorized node against the original.</summary>
    Latency,

    /// <summary>Choosing ranks and verifying the whole model end to end.</summary>
    Verify,

    /// <summary>Finished.</summary>
    Done,
}

/// <summary>Progress of a planning run: phase, step within it, and the node (or message) being worked on.</summary>
public readonly record struct PlanProgress(PlanPhase Phase, int Done, int Total, string Detail)
{
    /// <summary>While measuring nodes (Ladder, Sensitivity, Latency): steps finished (a node's ladder pricing, each error
    /// evaluation and latency measurement of a rung); 0 in other phases.</summary>
    public double WorkDone { get; init; }

    /// <summary>While measuring nodes: the steps of all nodes not answered from the cache (estimated for nodes whose ladder
    /// is not priced yet); 0 in other phases (then count <see cref="Done"/>).</summary>
    public double WorkTotal { get; init; }
}

/// <summary>One measured rung of a node's ladder: the factorization a rank policy produces and what it costs and saves.</summary>
public sealed record LadderPoint
{
    /// <summary>Energy level that produced the rank, or 0 for the break-even rung.</summary>
    public double Energy { get; init; }

    /// <summary>The rank (Tucker-2: output-mode rank).</summary>
    public required int Rank { get; init; }

    /// <summary>All ranks of the method (Tucker-2: [r_in, r_out]).</summary>
    public IReadOnlyList<int> Ranks { get; init; } = [];

    /// <summary>Method the pass emitted (svd, tucker2, …).</summary>
    public string Method { get; init; } = "";

    /// <summary>Budget metric of the whole model with only this node factorized at this rank (rel L2, points, or 1 − agreement).</summary>
    public double Error { get; init; }

    /// <summary>Relative Frobenius error of the weight.</summary>
    public double WeightRelError { get; init; }

    /// <summary>Weight parameters after.</summary>
    public long Params { get; init; }

    /// <summary>Node FLOPs after.</summary>
    public long Flops { get; init; }

    /// <summary>Median latency of the factorized node in ms, or null when not measured.</summary>
    public double? LatencyMs { get; init; }

    /// <summary>Original-over-factorized node latency (&gt; 1 is faster), or null when not measured.</summary>
    public double? Speedup { get; init; }

    /// <summary>The rank policy that reproduces this rung in the final build.</summary>
    public RankPolicy Policy() => Energy > 0 ? RankPolicy.Energy(Energy) : RankPolicy.Fixed(Rank);
}

/// <summary>What the planner measured and chose for one candidate node.</summary>
public sealed record NodePlan
{
    /// <summary>Node label (<see cref="PassContext.Label"/>).</summary>
    public required string NodeName { get; init; }

    /// <summary>Operator type.</summary>
    public required string OpType { get; init; }

    /// <summary>Parameters of the original weight.</summary>
    public long ParamsBefore { get; init; }

    /// <summary>FLOPs of the original node.</summary>
    public long FlopsBefore { get; init; }

    /// <summary>Largest rank that still saves parameters.</summary>
    public int BreakEvenRank { get; init; }

    /// <summary>Largest measured rank that is not slower than the original node; 0 when none is, or latency was not measured.</summary>
    public int LatencyBreakEvenRank { get; init; }

    /// <summary>Median latency of the original node in ms, or null when not measured.</summary>
    public double? OriginalLatencyMs { get; init; }

    /// <summary>Measured rungs, lowest rank first (empty when the node cannot be factorized).</summary>
    public IReadOnlyList<LadderPoint> Ladder { get; init; } = [];

    /// <summary>Chosen rank; 0 when the node is left as it is.</summary>
    public int ChosenRank { get; init; }

    /// <summary>Why this rank (or none) was chosen.</summary>
    public string Reason { get; init; } = "";
}

/// <summary>One end-to-end verification of a candidate allocation.</summary>
/// <param name="Iteration">1-based.</param>
/// <param name="Estimated">Error the allocator predicted from the single-node measurements.</param>
/// <param name="Measured">Error measured on the whole model.</param>
/// <param name="Objective">Target reduction of the allocation (FLOPs, params, or ms saved).</param>
/// <param name="Action">What was done next, in words.</param>
public sealed record VerificationStep(int Iteration, double Estimated, double Measured, double Objective, string Action);

/// <summary>Work done by a run: what was computed and what came from the cache.</summary>
public sealed record PlanStats
{
    /// <summary>Weight decompositions computed (cache misses).</summary>
    public int Decompositions { get; init; }

    /// <summary>Decompositions served by the cache.</summary>
    public int DecompositionCacheHits { get; init; }

    /// <summary>Single-node error evaluations run in ONNX Runtime.</summary>
    public int ErrorEvaluations { get; init; }

    /// <summary>ONNX Runtime sessions created for sensitivity (one per node and structure, not per rank).</summary>
    public int SensitivitySessions { get; init; }

    /// <summary>Node latency comparisons timed.</summary>
    public int LatencyMeasurements { get; init; }

    /// <summary>Nodes whose ladder came whole from the cache.</summary>
    public int NodeCacheHits { get; init; }

    /// <summary>Full-model verifications run.</summary>
    public int Verifications { get; init; }

    /// <summary>Wall time of the run in seconds.</summary>
    public double Seconds { get; init; }

    /// <summary>Seconds spent pricing ladders (decompositions and plans through the rules).</summary>
    public double PricingSeconds { get; init; }

    /// <summary>Seconds spent measuring rung errors (cut activations, downstream and probe runs).</summary>
    public double EvaluationSeconds { get; init; }

    /// <summary>Seconds spent timing factorized nodes against the originals.</summary>
    public double LatencySeconds { get; init; }

    /// <summary>Seconds spent verifying allocations on the whole model.</summary>
    public double VerificationSeconds { get; init; }

    /// <summary>Nodes whose rungs ran only the model after the node (<see cref="DownstreamProbe"/>).</summary>
    public int DownstreamNodes { get; init; }
}

/// <summary>The planner's record: the budget, what it measured per node, the verifications, and the outcome.</summary>
public sealed record BudgetPlan
{
    /// <summary>The budget, in words.</summary>
    public required string Budget { get; init; }

    /// <summary>The metric limited.</summary>
    public required BudgetMetric Metric { get; init; }

    /// <summary>The limit, as an allowance of the metric (1 − agreement for top-1 agreement).</summary>
    public required double Allowance { get; init; }

    /// <summary>The objective.</summary>
    public required PlanTarget Target { get; init; }

    /// <summary>Measured metric of the final model (same units as <see cref="Allowance"/>); 0 when nothing was factorized.</summary>
    public required double FinalError { get; init; }

    /// <summary>Per candidate node, in graph order.</summary>
    public required IReadOnlyList<NodePlan> Nodes { get; init; }

    /// <summary>Every end-to-end verification, in order.</summary>
    public IReadOnlyList<VerificationStep> Verifications { get; init; } = [];

    /// <summary>Work and cache statistics.</summary>
    public PlanStats Stats { get; init; } = new();

    /// <summary>Calibration samples used.</summary>
    public int SampleCount { get; init; }

    /// <summary>True when at least one node is factorized within the budget.</summary>
    public bool Factorized => Nodes.Any(n => n.ChosenRank > 0);
}

/// <summary>The planner's outcome: the factorized model (the input itself when nothing fits the budget) and the plan.</summary>
public sealed record BudgetResult(FactorizationResult Factorization, BudgetPlan Plan);
