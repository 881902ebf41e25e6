using System.Globalization;

namespace OnnxFactorize.Validation;

/// <summary>A budget result re-measured by validation: the error the planner measured on its calibration samples against
/// the same metric measured on the validation samples, and how much of the budget is left.</summary>
public sealed record HeldOutCheck
{
    /// <summary>Metric name as in the JSON report (relL2Error, accuracyDrop, top1Disagreement).</summary>
    public required string Metric { get; init; }

    /// <summary>The budget, in the metric's units.</summary>
    public required double Allowance { get; init; }

    /// <summary>What the planner measured on its calibration samples.</summary>
    public required double Planned { get; init; }

    /// <summary>Calibration samples the planner used.</summary>
    public required int CalibrationSamples { get; init; }

    /// <summary>The same metric measured by validation.</summary>
    public required double Measured { get; init; }

    /// <summary>Validation samples.</summary>
    public required int Samples { get; init; }

    /// <summary>Whether the validation samples differ from the calibration samples (false when both came from the same --inputs).</summary>
    public required bool HeldOut { get; init; }

    /// <summary>Budget left on the validation samples (allowance − measured); negative when the budget is exceeded.</summary>
    public double Margin => Allowance - Measured;

    /// <summary>One line for the console and the HTML report.</summary>
    public string Describe()
    {
        var where = HeldOut ? "held-out" : "the same (not held out: give different --inputs to hold out)";
        var verdict = Margin >= 0 ? "within budget" : "budget exceeded";
        return string.Create(CultureInfo.InvariantCulture,
            $"Budget check ({Metric}): planned {Planned:G4} on {CalibrationSamples} calibration sample(s), measured {Measured:G4} on {Samples} {where} sample(s); margin {Margin:G3} of {Allowance:G4} ({verdict}).");
    }

    /// <summary>The worst value of <paramref name="metric"/> over <paramref name="outputs"/>, as the budget planner measures it
    /// (relL2Error: +∞ when the optimized model adds non-finite values; top1Disagreement: 1 − lowest agreement).</summary>
    public static double Measure(string metric, IReadOnlyList<OutputMetrics> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        return metric switch
        {
            "accuracyDrop" => outputs.Select(o => o.Classification?.AccuracyDropPoints).OfType<double>().DefaultIfEmpty(double.NaN).Max(),
            "top1Disagreement" => outputs.Select(o => o.Classification?.Top1Agreement).OfType<double>().Select(a => 1 - a).DefaultIfEmpty(double.NaN).Max(),
            _ => outputs.Select(o => o.NonFiniteOptimized > o.NonFiniteOriginal ? double.PositiveInfinity : o.RelL2Error).DefaultIfEmpty(0).Max(),
        };
    }
}
