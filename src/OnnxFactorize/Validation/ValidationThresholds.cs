using System.Globalization;

namespace OnnxFactorize.Validation;

/// <summary>One threshold that a result broke: which, on which output, the value, the limit and by how much.</summary>
public sealed record ThresholdFailure
{
    /// <summary>Threshold name as in the JSON report (maxRelL2Error, maxAbsError, minCosine, minTop1Agreement, maxAccuracyDrop, minSpeedup, nonFinite).</summary>
    public required string Threshold { get; init; }

    /// <summary>Metric the threshold limits (relL2Error, maxAbsError, cosine, top1Agreement, accuracyDrop, speedup, nonFiniteOptimized).</summary>
    public required string Metric { get; init; }

    /// <summary>Output the failure is about ("" for model-level thresholds such as speedup).</summary>
    public required string Output { get; init; }

    /// <summary>Measured value.</summary>
    public required double Value { get; init; }

    /// <summary>The limit it broke.</summary>
    public required double Limit { get; init; }

    /// <summary>How far past the limit the value is (always positive).</summary>
    public double Excess => Math.Abs(Value - Limit);

    /// <summary>One-line message, e.g. "output 'y': relL2Error 0.0213 is above the limit maxRelL2Error 0.01 by 0.0113".</summary>
    public string Message
    {
        get
        {
            var where = Output.Length > 0 ? $"output '{Output}': " : "";
            var dir = Threshold.StartsWith("min", StringComparison.Ordinal) ? "below" : "above";
            return string.Create(CultureInfo.InvariantCulture, $"{where}{Metric} {Value:G6} is {dir} the limit {Threshold} {Limit:G6} by {Excess:G4}");
        }
    }
}

/// <summary>Pass/fail limits; any subset may be set (null = not checked); validated once by <see cref="Validate"/>. With no
/// accuracy limit given, validation applies <see cref="Defaults"/> (see <see cref="WithDefaults"/>), so a PASS always means
/// something was checked.</summary>
public sealed record ValidationThresholds
{
    /// <summary>The limits applied when no accuracy threshold is given: relative L2 error ≤ 0.05 and cosine ≥ 0.995 on every
    /// output, top-1 agreement ≥ 0.95 on outputs that are class scores (documented in README and docs/report-schema.md).</summary>
    public static ValidationThresholds Defaults { get; } = new() { MaxRelL2Error = 0.05, MinCosine = 0.995, MinTop1Agreement = 0.95 };

    /// <summary>Names (as in the JSON report) of the thresholds that were filled in from <see cref="Defaults"/> rather than given.</summary>
    public IReadOnlyList<string> Defaulted { get; init; } = [];

    /// <summary>Largest allowed ‖a − b‖/‖a‖ per output.</summary>
    public double? MaxRelL2Error { get; init; }

    /// <summary>Largest allowed max |a − b| per output.</summary>
    public double? MaxAbsError { get; init; }

    /// <summary>Smallest allowed cosine similarity per output.</summary>
    public double? MinCosine { get; init; }

    /// <summary>Smallest allowed top-1 agreement (0..1) per class-score output.</summary>
    public double? MinTop1Agreement { get; init; }

    /// <summary>Largest allowed accuracy drop in percentage points (needs labels).</summary>
    public double? MaxAccuracyDrop { get; init; }

    /// <summary>Smallest allowed speedup (original median / optimized median of pairs).</summary>
    public double? MinSpeedup { get; init; }

    /// <summary>Whether any threshold is set.</summary>
    public bool Any => MaxRelL2Error is not null || MaxAbsError is not null || MinCosine is not null || MinTop1Agreement is not null
        || MaxAccuracyDrop is not null || MinSpeedup is not null;

    /// <summary>Whether any accuracy threshold (everything but minSpeedup) is set.</summary>
    public bool AnyAccuracy => MaxRelL2Error is not null || MaxAbsError is not null || MinCosine is not null || MinTop1Agreement is not null || MaxAccuracyDrop is not null;

    /// <summary>These thresholds, or, when no accuracy threshold is set, these plus <see cref="Defaults"/> with the filled-in
    /// names recorded in <see cref="Defaulted"/>. An explicit accuracy threshold replaces all defaults.</summary>
    public ValidationThresholds WithDefaults() => AnyAccuracy ? this : this with
    {
        MaxRelL2Error = Defaults.MaxRelL2Error,
        MinCosine = Defaults.MinCosine,
        MinTop1Agreement = Defaults.MinTop1Agreement,
        Defaulted = ["maxRelL2Error", "minCosine", "minTop1Agreement"],
    };

    /// <summary>Every set threshold as (JSON name, limit, whether it is a default), in a stable order.</summary>
    public IReadOnlyList<(string Name, double Limit, bool IsDefault)> Set()
    {
        var all = new (string Name, double? Limit)[]
        {
            ("maxRelL2Error", MaxRelL2Error), ("maxAbsError", MaxAbsError), ("minCosine", MinCosine),
            ("minTop1Agreement", MinTop1Agreement), ("maxAccuracyDrop", MaxAccuracyDrop), ("minSpeedup", MinSpeedup),
        };
        return [.. all.Where(t => t.Limit is not null).Select(t => (t.Name, t.Limit!.Value, Defaulted.Contains(t.Name)))];
    }

    /// <summary>One line naming every set threshold and marking defaults, e.g. "maxRelL2Error 0.05 (default), minSpeedup 1".</summary>
    public string Describe() => string.Join(", ", Set().Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Name} {t.Limit:G6}{(t.IsDefault ? " (default)" : "")}")));

    /// <summary>Checks every limit once, with messages that name the bad value.</summary>
    public void Validate()
    {
        NonNegative(MaxRelL2Error, "maxRelL2Error");
        NonNegative(MaxAbsError, "maxAbsError");
        NonNegative(MaxAccuracyDrop, "maxAccuracyDrop");
        Range(MinCosine, "minCosine", -1, 1);
        Range(MinTop1Agreement, "minTop1Agreement", 0, 1);
        if (MinSpeedup is { } s && (!double.IsFinite(s) || s <= 0))
        {
            throw new OnnxFactorizeException(string.Create(CultureInfo.InvariantCulture, $"Threshold minSpeedup is {s}; it must be a positive number (1.0 = no slower)."));
        }
    }

    /// <summary>Every broken threshold, in a stable order (outputs in order, then speedup); empty means pass.</summary>
    public IReadOnlyList<ThresholdFailure> Evaluate(IReadOnlyList<OutputMetrics> outputs, LatencyResult? latency)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var failures = new List<ThresholdFailure>();
        foreach (var o in outputs)
        {
            // Non-finite values the reference does not have are a failure whenever accuracy is checked at all.
            if (Any && o.NonFiniteOptimized > o.NonFiniteOriginal)
            {
                failures.Add(new() { Threshold = "nonFinite", Metric = "nonFiniteOptimized", Output = o.Name, Value = o.NonFiniteOptimized, Limit = o.NonFiniteOriginal });
            }

            Above(failures, o.Name, "maxRelL2Error", "relL2Error", o.RelL2Error, MaxRelL2Error);
            Above(failures, o.Name, "maxAbsError", "maxAbsError", o.MaxAbsError, MaxAbsError);
            Below(failures, o.Name, "minCosine", "cosine", o.Cosine, MinCosine);
            if (o.Classification is { } c)
            {
                Below(failures, o.Name, "minTop1Agreement", "top1Agreement", c.Top1Agreement, MinTop1Agreement);
                if (c.AccuracyDropPoints is { } drop)
                {
                    Above(failures, o.Name, "maxAccuracyDrop", "accuracyDrop", drop, MaxAccuracyDrop);
                }
            }
        }

        if (MaxAccuracyDrop is { } limit && !outputs.Any(o => o.Classification?.AccuracyDropPoints is not null))
        {
            throw new OnnxFactorizeException(string.Create(CultureInfo.InvariantCulture, $"Threshold maxAccuracyDrop {limit} needs labels and a class-score output; give a labels file or drop the threshold."));
        }

        if (MinTop1Agreement is { } top1 && !Defaulted.Contains("minTop1Agreement") && outputs.Count > 0 && outputs.All(o => o.Classification is null))
        {
            throw new OnnxFactorizeException(string.Create(CultureInfo.InvariantCulture, $"Threshold minTop1Agreement {top1} needs an output of class scores ([N, classes]); none of {string.Join(", ", outputs.Select(o => $"'{o.Name}'"))} is one. For per-pixel or per-token agreement declare --task classify, or drop the threshold."));
        }

        if (MinSpeedup is { } minSpeedup)
        {
            if (latency is null)
            {
                throw new OnnxFactorizeException("Threshold minSpeedup needs a latency measurement; enable latency or drop the threshold.");
            }

            Below(failures, "", "minSpeedup", "speedup", latency.Speedup, minSpeedup);
        }

        return failures;
    }

    private static void Above(List<ThresholdFailure> failures, string output, string threshold, string metric, double value, double? limit)
    {
        if (limit is { } l && !(value <= l))
        {
            failures.Add(new() { Threshold = threshold, Metric = metric, Output = output, Value = value, Limit = l });
        }
    }

    private static void Below(List<ThresholdFailure> failures, string output, string threshold, string metric, double value, double? limit)
    {
        if (limit is { } l && !(value >= l))
        {
            failures.Add(new() { Threshold = threshold, Metric = metric, Output = output, Value = value, Limit = l });
        }
    }

    private static void NonNegative(double? value, string name)
    {
        if (value is { } v && (!double.IsFinite(v) || v < 0))
        {
            throw new OnnxFactorizeException(string.Create(CultureInfo.InvariantCulture, $"Threshold {name} is {v}; it must be a finite number ≥ 0."));
        }
    }

    private static void Range(double? value, string name, double min, double max)
    {
        if (value is { } v && !(v >= min && v <= max))
        {
            throw new OnnxFactorizeException(string.Create(CultureInfo.InvariantCulture, $"Threshold {name} is {v}; it must lie in [{min}, {max}]."));
        }
    }
}
