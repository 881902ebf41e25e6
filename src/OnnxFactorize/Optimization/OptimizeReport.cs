using System.Globalization;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Optimization;

/// <summary>Progress sinks of one <see cref="Optimizer.Run"/>: a phase line when each phase starts, then the phase's own
/// progress (per node, per planning step, per validation sample).</summary>
public sealed record OptimizeProgress
{
    /// <summary>Called when a phase starts, with its title ("Decomposing", "Planning ranks for …", "Validating in ONNX Runtime").</summary>
    public Action<string>? PhaseStarted { get; init; }

    /// <summary>Per-node progress of the factorization.</summary>
    public IProgress<FactorizeProgress>? Factorize { get; init; }

    /// <summary>Progress of the budget planner.</summary>
    public IProgress<PlanProgress>? Plan { get; init; }

    /// <summary>Progress of the validation.</summary>
    public IProgress<ValidationProgress>? Validation { get; init; }
}

/// <summary>Everything one optimization found and did: the decisions per node, the budget plan when ranks were measured,
/// the validation when one ran; reports (console, JSON, HTML, MSBuild) are rendered from this.</summary>
public sealed record OptimizeReport
{
    /// <summary>The model optimized.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Where the optimized model was written, or null.</summary>
    public string? OutputPath { get; init; }

    /// <summary>The optimized model and a decision per candidate node.</summary>
    public required FactorizationResult Factorization { get; init; }

    /// <summary>How ranks were chosen, e.g. "energy 0.99" or the budget with its measured error.</summary>
    public required string RankChoice { get; init; }

    /// <summary>Weight parameters of the original model (initializers and Constant tensors).</summary>
    public long ParamsBefore { get; init; }

    /// <summary>Weight parameters of the optimized model.</summary>
    public long ParamsAfter { get; init; }

    /// <summary>The budget plan, when ranks were chosen by measurement.</summary>
    public BudgetPlan? Plan { get; init; }

    /// <summary>The validation, when one ran.</summary>
    public ValidationResult? Validation { get; init; }

    /// <summary>Peak resident memory of the process when the run finished (see <see cref="Reports.PeakMemory"/>), or null.</summary>
    public long? PeakRssBytes { get; init; }

    /// <summary>Things the user should know that are not failures (e.g. FLOPs counted from declared shapes only).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Nodes factorized.</summary>
    public int FactorizedCount => Factorization.Decisions.Count(d => d.Status == DecisionStatus.Factorized);

    /// <summary>True unless a validation ran and a threshold failed.</summary>
    public bool Passed => Validation?.Passed ?? true;

    /// <summary>The one-line summary: "in -> out: " and <see cref="SummaryText"/>.</summary>
    public string Summary() => (OutputPath is null ? ModelPath : $"{ModelPath} -> {OutputPath}") + ": " + SummaryText();

    /// <summary>"k of n node(s) factorized (how), parameters a -> b (±x %)", and a note when nothing changed.</summary>
    public string SummaryText()
    {
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{FactorizedCount} of {Factorization.Decisions.Count} node(s) factorized ({RankChoice}), parameters {Count(ParamsBefore)} -> {Count(ParamsAfter)} ({Percent(ParamsBefore, ParamsAfter)})");
        return Factorization.Changed ? line : line + "; no node selected or worth factorizing, the model was written unchanged";
    }

    /// <summary>A count with a K/M/G suffix past 10 000.</summary>
    public static string Count(long value) => value switch
    {
        >= 10_000_000_000 => (value / 1e9).ToString("0.#", CultureInfo.InvariantCulture) + "G",
        >= 10_000_000 => (value / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + "M",
        >= 10_000 => (value / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "K",
        _ => value.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The signed change from <paramref name="before"/> to <paramref name="after"/> in percent, or "–".</summary>
    public static string Percent(long before, long after) =>
        before > 0 ? ((after - before) * 100.0 / before).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " %" : "–";
}
