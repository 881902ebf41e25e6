using OnnxFactorize.Validation;

namespace OnnxFactorize.Testing.Tests;

// The example quoted in the README: keep a factorized model honest in your own test suite.
public class ClassifierRegressionTests : IClassFixture<ModelFiles>
{
    private readonly ModelFiles _models;

    public ClassifierRegressionTests(ModelFiles models) => _models = models;

    [Fact]
    public void Factorized_classifier_stays_equivalent_to_the_original()
    {
        var thresholds = new ValidationThresholds
        {
            MaxRelL2Error = 0.01,     // ‖a − b‖ / ‖a‖ per output
            MinCosine = 0.999,
            MinTop1Agreement = 0.95,  // same predicted class on 95% of rows
        };
        var inputs = new InputOptions
        {
            Dims = InputOptions.ParseDims(["batch=16"]),  // bind symbolic dims
            Seed = 42,
            RandomSamples = 4,
        };

        var result = ModelAssert.Equivalent(_models.Original, _models.SlightlyChanged, thresholds, inputs);

        Assert.True(result.Outputs[0].RelL2Error < 0.01);
    }

    [Fact]
    public void Classifier_still_reproduces_its_recorded_golden_outputs()
    {
        var golden = Path.Combine(_models.Folder, "golden");
        ModelAssert.WriteGolden(_models.Original, golden, new InputOptions { Dims = InputOptions.ParseDims(["batch=4"]), RandomSamples = 2 });

        ModelAssert.MatchesGolden(_models.SlightlyChanged, golden, new ValidationThresholds { MaxAbsError = 0.05, MinTop1Agreement = 1 });
    }

    [Fact]
    public void A_broken_model_fails_with_output_metric_value_and_limit_in_the_message()
    {
        var e = Assert.Throws<ModelAssertException>(() => ModelAssert.Equivalent(
            _models.Original,
            _models.Broken,
            new ValidationThresholds { MaxRelL2Error = 0.01 },
            new InputOptions { Dims = InputOptions.ParseDims(["batch=16"]) }));

        Assert.IsAssignableFrom<Xunit.Sdk.XunitException>(e);
        Assert.Contains("output 'logits': relL2Error ", e.Message, StringComparison.Ordinal);
        Assert.Contains(" is above the limit maxRelL2Error 0.01 by ", e.Message, StringComparison.Ordinal);
        Assert.False(e.Result.Passed);
    }

    [Fact]
    public void Latency_threshold_is_checked_when_asked_for()
    {
        var e = Assert.Throws<ModelAssertException>(() => ModelAssert.Equivalent(
            _models.Original,
            _models.Original,
            new ValidationThresholds { MinSpeedup = 50 },
            new InputOptions { Dims = InputOptions.ParseDims(["batch=16"]) },
            new LatencyOptions { WarmupRuns = 1, Runs = 5, IntraOpThreads = 1 }));

        Assert.Contains("speedup ", e.Message, StringComparison.Ordinal);
        Assert.Contains("is below the limit minSpeedup 50 by", e.Message, StringComparison.Ordinal);
    }
}
