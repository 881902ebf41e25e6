namespace OnnxFactorize.Validation;

/// <summary>Top-1 metrics of an output that is class scores (see <see cref="OutputTask"/>), over rows along the last axis.</summary>
public sealed record ClassificationMetrics
{
    /// <summary>Number of score rows compared.</summary>
    public required long Rows { get; init; }

    /// <summary>Fraction of rows where both models pick the same class (0..1).</summary>
    public required double Top1Agreement { get; init; }

    /// <summary>Top-1 accuracy of the original (reference) model against labels, 0..1; null without labels.</summary>
    public double? OriginalAccuracy { get; init; }

    /// <summary>Top-1 accuracy of the optimized model against labels, 0..1; null without labels.</summary>
    public double? OptimizedAccuracy { get; init; }

    /// <summary>Accuracy drop in percentage points (original − optimized) × 100; null without labels.</summary>
    public double? AccuracyDropPoints => OriginalAccuracy is { } a && OptimizedAccuracy is { } b ? (a - b) * 100.0 : null;
}

/// <summary>Accuracy of one model output, optimized (b) against original or golden (a), aggregated over all samples.</summary>
public sealed record OutputMetrics
{
    /// <summary>Output name.</summary>
    public required string Name { get; init; }

    /// <summary>Shape of the output in the first sample.</summary>
    public required IReadOnlyList<long> Shape { get; init; }

    /// <summary>Elements compared over all samples, non-finite included.</summary>
    public required long ElementCount { get; init; }

    /// <summary>max |a − b| over finite pairs.</summary>
    public required double MaxAbsError { get; init; }

    /// <summary>mean |a − b| over finite pairs.</summary>
    public required double MeanAbsError { get; init; }

    /// <summary>‖a − b‖₂ / ‖a‖₂ over finite pairs (0 when both are zero, +∞ when only a is).</summary>
    public required double RelL2Error { get; init; }

    /// <summary>Cosine similarity a·b / (‖a‖‖b‖) over finite pairs (1 when both are zero).</summary>
    public required double Cosine { get; init; }

    /// <summary>Non-finite (NaN/±∞) elements in the original output; these are excluded from the error sums, never hidden.</summary>
    public long NonFiniteOriginal { get; init; }

    /// <summary>Non-finite (NaN/±∞) elements in the optimized output.</summary>
    public long NonFiniteOptimized { get; init; }

    /// <summary>Top-1 metrics when the output looks like class scores; null otherwise.</summary>
    public ClassificationMetrics? Classification { get; init; }
}
