namespace OnnxFactorize.Validation;

/// <summary>How validation reads model outputs for top-1 agreement and labelled accuracy.</summary>
public enum OutputTask
{
    /// <summary>Only outputs shaped like a class-score vector per row: [classes] or [N, classes] (dims between the first and
    /// the last all 1), with at least 2 classes. Segmentation maps, sequences and regressions get no top-1.</summary>
    Auto,

    /// <summary>Every floating-point output is class scores along its last axis, whatever its rank (per-pixel or per-token agreement).</summary>
    Classify,

    /// <summary>No output is class scores: only error metrics are reported.</summary>
    Other,
}
