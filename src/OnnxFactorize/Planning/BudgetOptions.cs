using System.Globalization;
using OnnxFactorize.Passes;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Planning;

/// <summary>What the budget planner minimizes.</summary>
public enum PlanTarget
{
    /// <summary>Gemm/MatMul/Conv FLOPs at the calibration shapes.</summary>
    Flops,

    /// <summary>Weight parameters.</summary>
    Params,

    /// <summary>Node latency measured in ONNX Runtime.</summary>
    Latency,
}

/// <summary>Which measured quantity the budget limits.</summary>
public enum BudgetMetric
{
    /// <summary>Worst relative L2 error over the model outputs, ‖a − b‖₂ / ‖a‖₂.</summary>
    RelL2Error,

    /// <summary>Top-1 accuracy drop against labels, in percentage points.</summary>
    AccuracyDrop,

    /// <summary>Top-1 agreement with the original model (0..1), lowest over class-score outputs.</summary>
    Top1Agreement,
}

/// <summary>"Compress as much as possible while the outputs stay within my budget": the one options type the library, the
/// CLI (<c>optimize --max-error</c> …) and the MSBuild task pass to <see cref="BudgetPlanner"/>. Immutable; exactly one of
/// <see cref="MaxError"/>, <see cref="MaxAccuracyDrop"/>, <see cref="MinTop1Agreement"/> is set. <see cref="Validate"/>
/// checks it once, with messages that name the bad value.</summary>
public sealed record BudgetOptions
{
    /// <summary>The default energy ladder: ranks reaching these fractions of each weight's energy (plus break-even) are measured.</summary>
    public static readonly IReadOnlyList<double> DefaultEnergies = [0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999];

    /// <summary>The default cost fractions: ranks whose factors hold at most these fractions of each weight's parameters
    /// (RankPolicy.Compression), so the ladder also reaches the deep-compression end the energy levels leave out.</summary>
    public static readonly IReadOnlyList<double> DefaultCostFractions = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

    /// <summary>Default cache folder: the user's cache folder (see <see cref="CacheLocation"/>), never the working directory.</summary>
    public static string DefaultCacheDirectory => CacheLocation.Default;

    /// <summary>Largest allowed relative L2 error of the outputs (e.g. 0.01 = 1 %), or null.</summary>
    public double? MaxError { get; init; }

    /// <summary>Largest allowed top-1 accuracy drop in percentage points (needs labels in <see cref="InputOptions.LabelsPath"/>), or null.</summary>
    public double? MaxAccuracyDrop { get; init; }

    /// <summary>Smallest allowed top-1 agreement with the original model, in (0, 1], or null.</summary>
    public double? MinTop1Agreement { get; init; }

    /// <summary>What to reduce; default FLOPs.</summary>
    public PlanTarget Target { get; init; } = PlanTarget.Flops;

    /// <summary>Which nodes, ops, methods, rank multiple and SVD settings (its rank policy is ignored: the planner chooses per node).</summary>
    public FactorizeOptions Factorize { get; init; } = new();

    /// <summary>Data-aware rungs (<see cref="FactorizeOptions.DataAware"/> whiten): the calibration statistics of each
    /// fittable node's input, keyed by its first output name (collected by <c>Optimizer.Run</c>); null for weight-space rungs.</summary>
    internal IReadOnlyDictionary<string, Decomposition.GramAccumulator>? InputStatistics { get; init; }

    /// <summary>Calibration inputs: given files or seeded random samples.</summary>
    public InputOptions Inputs { get; init; } = new() { RandomSamples = 4 };

    /// <summary>Energy levels whose ranks form each node's ladder (break-even is always added).</summary>
    public IReadOnlyList<double> Energies { get; init; } = DefaultEnergies;

    /// <summary>Cost fractions whose ranks are added to each node's ladder (empty: energy levels and break-even only).</summary>
    public IReadOnlyList<double> CostFractions { get; init; } = DefaultCostFractions;

    /// <summary>Measure each factorized node's latency and never keep one slower than the original (always on for <see cref="PlanTarget.Latency"/>).</summary>
    public bool LatencyGuard { get; init; } = true;

    /// <summary>Node latency measurement settings (interleaved runs on an isolated one-node model).</summary>
    public LatencyOptions Latency { get; init; } = new() { WarmupRuns = 3, Runs = 15, IntraOpThreads = 1 };

    /// <summary>Cache folder for decompositions, sensitivities and latencies; null disables the disk cache.</summary>
    public string? CacheDirectory { get; init; } = DefaultCacheDirectory;

    /// <summary>Measure rung errors with one session per node whose factors are fed as inputs (default); false builds one
    /// full model and session per (node, rank), the naive way, kept for comparison benchmarks.</summary>
    public bool SharedSessions { get; init; } = true;

    /// <summary>Search each node's ladder by bisection for the cheapest rung within budget alone, then measure the rungs
    /// above it (default); false measures every rung.</summary>
    public bool BisectLadder { get; init; } = true;

    /// <summary>Measure a node's rungs on the part of the model after it, fed the activations before it computed once per
    /// sample (default, where the graph allows the cut); false runs the whole weight probe per rung.</summary>
    public bool DownstreamEvaluation { get; init; } = true;

    /// <summary>How many of the calibration samples (the first ones) a node's rung errors are measured on; verifications
    /// always measure all of them. 0 measures rungs on all samples. Default 16: single-node errors only rank the rungs for
    /// the allocator, and the answer is verified on every sample.</summary>
    public int SensitivitySamples { get; init; } = 16;

    /// <summary>End-to-end verifications allowed before backing off node by node.</summary>
    public int MaxVerifications { get; init; } = 6;

    /// <summary>Whole-model verifications spent after the allocation ends within budget, each measuring one more rung
    /// change (a chosen node one rung cheaper, or an excluded node's least damaging rung) and keeping it when the measured
    /// error stays within budget; 0 disables the refinement.</summary>
    public int RefinementVerifications { get; init; } = 8;

    /// <summary>The metric the budget limits.</summary>
    public BudgetMetric Metric => MaxAccuracyDrop is not null ? BudgetMetric.AccuracyDrop
        : MinTop1Agreement is not null ? BudgetMetric.Top1Agreement : BudgetMetric.RelL2Error;

    /// <summary>The budget as an amount of "damage" that may be spent: the error, the drop in points, or 1 − agreement.</summary>
    public double Allowance => Metric switch
    {
        BudgetMetric.AccuracyDrop => MaxAccuracyDrop!.Value,
        BudgetMetric.Top1Agreement => 1 - MinTop1Agreement!.Value,
        _ => MaxError!.Value,
    };

    /// <summary>Short description for reports, e.g. "rel L2 ≤ 0.01".</summary>
    public string DescribeBudget() => Metric switch
    {
        BudgetMetric.AccuracyDrop => $"accuracy drop ≤ {F(MaxAccuracyDrop!.Value)} points",
        BudgetMetric.Top1Agreement => $"top-1 agreement ≥ {F(MinTop1Agreement!.Value)}",
        _ => $"relative L2 error ≤ {F(MaxError!.Value)}",
    };

    /// <summary>Checks every value; throws <see cref="OnnxFactorizeException"/> naming the first bad one.</summary>
    public BudgetOptions Validate()
    {
        var set = (MaxError is null ? 0 : 1) + (MaxAccuracyDrop is null ? 0 : 1) + (MinTop1Agreement is null ? 0 : 1);
        if (set != 1)
        {
            throw new OnnxFactorizeException(set == 0
                ? "no budget given; set exactly one of --max-error, --max-accuracy-drop or --min-top1-agreement."
                : "several budgets given; set exactly one of --max-error, --max-accuracy-drop or --min-top1-agreement.");
        }

        if (MaxError is { } e && !(e > 0 && double.IsFinite(e)))
        {
            throw new OnnxFactorizeException($"max-error must be a positive relative L2 error such as 0.01, got {F(e)}.");
        }

        if (MaxAccuracyDrop is { } d && !(d >= 0 && d <= 100))
        {
            throw new OnnxFactorizeException($"max-accuracy-drop must be in [0, 100] percentage points, got {F(d)}.");
        }

        if (MaxAccuracyDrop is not null && Inputs?.LabelsPath is null)
        {
            throw new OnnxFactorizeException("max-accuracy-drop needs labels; give --labels with one int64 label per score row.");
        }

        if (MinTop1Agreement is { } a && !(a > 0 && a <= 1))
        {
            throw new OnnxFactorizeException($"min-top1-agreement must be in (0, 1], got {F(a)}.");
        }

        if (!Enum.IsDefined(Target))
        {
            throw new OnnxFactorizeException($"target '{Target}' is unknown; use flops, params or latency.");
        }

        if (Energies is null || Energies.Count == 0)
        {
            throw new OnnxFactorizeException("the energy ladder is empty; give one or more energies in (0, 1).");
        }

        foreach (var energy in Energies)
        {
            if (!(energy > 0 && energy < 1))
            {
                throw new OnnxFactorizeException($"ladder energy must be in (0, 1), got {F(energy)}.");
            }
        }

        foreach (var fraction in CostFractions ?? throw new OnnxFactorizeException("the cost-fraction list is null; give an empty list for none."))
        {
            if (!(fraction > 0 && fraction < 1))
            {
                throw new OnnxFactorizeException($"ladder cost fraction must be in (0, 1), got {F(fraction)}.");
            }
        }

        if (MaxVerifications < 1)
        {
            throw new OnnxFactorizeException($"max-verifications must be at least 1, got {MaxVerifications}.");
        }

        if (SensitivitySamples < 0)
        {
            throw new OnnxFactorizeException($"sensitivity-samples must be 0 (all calibration samples) or more, got {SensitivitySamples}.");
        }

        if (RefinementVerifications < 0)
        {
            throw new OnnxFactorizeException($"refinement-verifications must be 0 (no refinement) or more, got {RefinementVerifications}.");
        }

        ArgumentNullException.ThrowIfNull(Factorize);
        ArgumentNullException.ThrowIfNull(Inputs);
        ArgumentNullException.ThrowIfNull(Latency);
        Factorize.Validate();
        Inputs.Validate();
        Latency.Validate();
        return this;
    }

    /// <summary>Parses a target name (flops, params, latency; case-insensitive), naming the bad value.</summary>
    public static PlanTarget ParseTarget(string text) => text?.Trim().ToUpperInvariant() switch
    {
        "FLOPS" => PlanTarget.Flops,
        "PARAMS" => PlanTarget.Params,
        "LATENCY" => PlanTarget.Latency,
        _ => throw new OnnxFactorizeException($"target '{text}' is unknown; use flops, params or latency."),
    };

    private static string F(double value) => value.ToString("G", CultureInfo.InvariantCulture);
}
