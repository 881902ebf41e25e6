
namespace OnnxFactorize.Validation;

/// <summary>Size and cost of one model file.</summary>
public sealed record ModelSummary
{
    /// <summary>Model path as given.</summary>
    public required string Path { get; init; }

    /// <summary>File size in bytes (plus external data files when present).</summary>
    public required long FileBytes { get; init; }

    /// <summary>Sum of initializer element counts.</summary>
    public required long Parameters { get; init; }

    /// <summary>Gemm/MatMul/Conv FLOPs (2 per multiply-add) at the validated input shapes.</summary>
    public required long Flops { get; init; }
}

/// <summary>Everything validation found: sizes, costs, per-output accuracy, latency, per-node decisions and pass/fail.</summary>
public sealed record ValidationResult
{
    /// <summary>The original (reference) model, or the golden outputs' model in golden mode.</summary>
    public required ModelSummary Original { get; init; }

    /// <summary>The optimized (candidate) model.</summary>
    public required ModelSummary Optimized { get; init; }

    /// <summary>Number of input samples compared.</summary>
    public required int SampleCount { get; init; }

    /// <summary>Accuracy per output, in the original model's output order.</summary>
    public required IReadOnlyList<OutputMetrics> Outputs { get; init; }

    /// <summary>Latency, or null when not measured (golden mode or latency disabled).</summary>
    public LatencyResult? Latency { get; init; }


    /// <summary>The thresholds that were checked.</summary>
    public ValidationThresholds Thresholds { get; init; } = new();

    /// <summary>With a budget: the planner's calibration error re-measured on the validation samples; null otherwise.</summary>
    public HeldOutCheck? HeldOut { get; init; }

    /// <summary>Where the samples came from, e.g. "4 seeded random sample(s), seed 0" or the input path.</summary>
    public string InputsDescription { get; init; } = "";

    /// <summary>Every broken threshold; empty means pass.</summary>
    public IReadOnlyList<ThresholdFailure> Failures { get; init; } = [];

    /// <summary>Whether every threshold held (also true when none was set: see <see cref="Checked"/>).</summary>
    public bool Passed => Failures.Count == 0;

    /// <summary>Whether any threshold was set, so a pass means something was checked.</summary>
    public bool Checked => Thresholds.Any;

    /// <summary>"pass" (thresholds set, all held), "fail" (one broke) or "unchecked" (no threshold set: nothing was checked).</summary>
    public string Verdict => !Passed ? "fail" : Checked ? "pass" : "unchecked";
}
