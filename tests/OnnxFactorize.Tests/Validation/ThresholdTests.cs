using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

public class ThresholdTests
{
    private static OutputMetrics Output(string name, double rel = 0, double maxAbs = 0, double cosine = 1, ClassificationMetrics? c = null, long nonFinite = 0)
        => new() { Name = name, Shape = [1], ElementCount = 1, MaxAbsError = maxAbs, MeanAbsError = 0, RelL2Error = rel, Cosine = cosine, Classification = c, NonFiniteOptimized = nonFinite };

    [Fact]
    public void A_broken_threshold_names_output_metric_value_limit_and_excess()
    {
        var t = new ValidationThresholds { MaxRelL2Error = 0.01 };
        var f = Assert.Single(t.Evaluate([Output("y", rel: 0.0213)], null));

        Assert.Equal("maxRelL2Error", f.Threshold);
        Assert.Equal("y", f.Output);
        Assert.Equal(0.0113, f.Excess, 9);
        Assert.Equal("output 'y': relL2Error 0.0213 is above the limit maxRelL2Error 0.01 by 0.0113", f.Message);
    }

    [Fact]
    public void Every_threshold_is_checked_and_passing_ones_are_silent()
    {
        var t = new ValidationThresholds { MaxRelL2Error = 0.1, MaxAbsError = 0.5, MinCosine = 0.99, MinTop1Agreement = 0.9, MaxAccuracyDrop = 1, MinSpeedup = 1.5 };
        var c = new ClassificationMetrics { Rows = 10, Top1Agreement = 0.8, OriginalAccuracy = 0.9, OptimizedAccuracy = 0.85 };
        var latency = new LatencyResult { Original = new(2, 3, 1), Optimized = new(2, 3, 1), Speedup = 1.0, Runs = 1, WarmupRuns = 0 };
        var failures = t.Evaluate([Output("a", rel: 0.05, maxAbs: 0.7, cosine: 0.98, c: c)], latency);

        Assert.Equal(["maxAbsError", "minCosine", "minTop1Agreement", "maxAccuracyDrop", "minSpeedup"], failures.Select(f => f.Threshold));
        Assert.Contains("below the limit minSpeedup 1.5 by 0.5", failures[^1].Message, StringComparison.Ordinal);
        Assert.Equal(5.0, failures[3].Value, 9);
    }

    [Fact]
    public void New_non_finite_values_fail_whenever_a_threshold_is_set()
    {
        var f = Assert.Single(new ValidationThresholds { MaxAbsError = 1 }.Evaluate([Output("y", nonFinite: 3)], null));
        Assert.Equal("nonFinite", f.Threshold);
        Assert.Empty(new ValidationThresholds().Evaluate([Output("y", nonFinite: 3)], null));
    }

    [Theory]
    [InlineData("maxRelL2Error", -0.1, "Threshold maxRelL2Error is -0.1")]
    [InlineData("minCosine", 1.5, "Threshold minCosine is 1.5; it must lie in [-1, 1]")]
    [InlineData("minTop1Agreement", 2, "Threshold minTop1Agreement is 2")]
    [InlineData("minSpeedup", 0, "Threshold minSpeedup is 0")]
    [InlineData("maxAbsError", double.NaN, "Threshold maxAbsError is NaN")]
    public void Bad_thresholds_are_rejected_naming_the_value(string name, double value, string expected)
    {
        var t = name switch
        {
            "maxRelL2Error" => new ValidationThresholds { MaxRelL2Error = value },
            "minCosine" => new ValidationThresholds { MinCosine = value },
            "minTop1Agreement" => new ValidationThresholds { MinTop1Agreement = value },
            "minSpeedup" => new ValidationThresholds { MinSpeedup = value },
            _ => new ValidationThresholds { MaxAbsError = value },
        };
        var e = Assert.Throws<OnnxFactorizeException>(t.Validate);
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
    }
}
