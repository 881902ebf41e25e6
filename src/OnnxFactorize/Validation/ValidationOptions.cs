namespace OnnxFactorize.Validation;

/// <summary>Everything a validation run needs besides the model paths; validated once by <see cref="Validate"/>.</summary>
public sealed record ValidationOptions
{
    /// <summary>Where inputs come from and how symbolic dims are bound.</summary>
    public InputOptions Inputs { get; init; } = new();

    /// <summary>Latency measurement and session settings; null skips latency (unless minSpeedup is set, which then uses defaults).</summary>
    public LatencyOptions? Latency { get; init; } = new();

    /// <summary>Pass/fail limits.</summary>
    public ValidationThresholds Thresholds { get; init; } = new();

    /// <summary>Checks every option once, with messages that name the bad value.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Inputs);
        ArgumentNullException.ThrowIfNull(Thresholds);
        Inputs.Validate();
        Latency?.Validate();
        Thresholds.Validate();
    }
}
