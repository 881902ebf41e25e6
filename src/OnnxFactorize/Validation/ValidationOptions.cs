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

    /// <summary>Whether <see cref="ValidationThresholds.Defaults"/> apply when no accuracy threshold is given (default true);
    /// false with no threshold makes the result "unchecked", never a pass.</summary>
    public bool DefaultThresholds { get; init; } = true;

    /// <summary>How outputs are read for top-1 agreement: auto (only [N, classes] outputs), classify (rows along the last
    /// axis of any output, e.g. per pixel or per token) or other (never).</summary>
    public OutputTask Task { get; init; } = OutputTask.Auto;

    /// <summary>The thresholds validation checks: <see cref="Thresholds"/>, with defaults filled in when enabled.</summary>
    public ValidationThresholds EffectiveThresholds => DefaultThresholds ? Thresholds.WithDefaults() : Thresholds;

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
