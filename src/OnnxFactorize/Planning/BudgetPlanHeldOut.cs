using OnnxFactorize.Validation;

namespace OnnxFactorize.Planning;

/// <summary>Re-verifies a budget plan on validation samples.</summary>
public static class BudgetPlanHeldOut
{
    /// <summary>The plan's calibration error against the same metric measured in <paramref name="validation"/>;
    /// <paramref name="heldOut"/> says whether the validation samples differ from the calibration ones.</summary>
    public static HeldOutCheck Check(this BudgetPlan plan, ValidationResult validation, bool heldOut)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(validation);
        var metric = plan.Metric switch
        {
            BudgetMetric.AccuracyDrop => "accuracyDrop",
            BudgetMetric.Top1Agreement => "top1Disagreement",
            _ => "relL2Error",
        };
        return new HeldOutCheck
        {
            Metric = metric,
            Allowance = plan.Allowance,
            Planned = plan.FinalError,
            CalibrationSamples = plan.SampleCount,
            Measured = HeldOutCheck.Measure(metric, validation.Outputs),
            Samples = validation.SampleCount,
            HeldOut = heldOut,
        };
    }
}
