using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

public class TrustedValidationTests
{
    private static readonly ModelInput Audio = new("audio", TensorElementType.Float, [1, 8], ["", ""]);
    private static readonly ModelInput SampleRate = new("sample_rate", TensorElementType.Int64, [1], [""]);

    private static OutputMetrics Output(string name, double rel, double cosine, ClassificationMetrics? c = null)
        => new() { Name = name, Shape = [1, 4], ElementCount = 4, MaxAbsError = 0, MeanAbsError = 0, RelL2Error = rel, Cosine = cosine, Classification = c };

    [Fact]
    public void Without_accuracy_thresholds_the_documented_defaults_apply_and_are_marked()
    {
        var t = new ValidationThresholds { MinSpeedup = 1.1 }.WithDefaults();

        Assert.Equal(0.05, t.MaxRelL2Error);
        Assert.Equal(0.995, t.MinCosine);
        Assert.Equal(0.95, t.MinTop1Agreement);
        Assert.Equal("maxRelL2Error 0.05 (default), minCosine 0.995 (default), minTop1Agreement 0.95 (default), minSpeedup 1.1", t.Describe());
        var latency = new LatencyResult { Original = new(1, 1, 1), Optimized = new(1, 1, 1), Speedup = 1.2, Runs = 1, WarmupRuns = 0 };
        var failures = t.Evaluate([Output("y", rel: 0.39, cosine: 0.46)], latency);
        Assert.Equal(["maxRelL2Error", "minCosine"], failures.Select(f => f.Threshold));
    }

    [Fact]
    public void An_explicit_accuracy_threshold_replaces_every_default()
    {
        var t = new ValidationThresholds { MaxAbsError = 1 }.WithDefaults();

        Assert.Null(t.MaxRelL2Error);
        Assert.Empty(t.Defaulted);
        Assert.Equal("maxAbsError 1", t.Describe());
    }

    [Fact]
    public void Switched_off_defaults_and_no_threshold_mean_nothing_was_checked()
    {
        var options = new ValidationOptions { DefaultThresholds = false };
        var result = new ValidationResult
        {
            Original = new ModelSummary { Path = "a", FileBytes = 0, Parameters = 0, Flops = 0 },
            Optimized = new ModelSummary { Path = "b", FileBytes = 0, Parameters = 0, Flops = 0 },
            SampleCount = 1,
            Outputs = [Output("y", 0.9, 0.1)],
            Thresholds = options.EffectiveThresholds,
        };

        Assert.False(result.Checked);
        Assert.Equal("unchecked", result.Verdict);
        Assert.Equal("pass", (result with { Thresholds = new ValidationOptions().EffectiveThresholds }).Verdict);
    }

    [Fact]
    public void Default_top1_is_silent_on_outputs_that_are_not_class_scores_but_an_explicit_one_is_an_error()
    {
        Assert.Empty(new ValidationThresholds().WithDefaults().Evaluate([Output("mask", rel: 0.01, cosine: 0.9999)], null));
        var explicitTop1 = new ValidationThresholds { MinTop1Agreement = 0.9 };

        var e = Assert.Throws<OnnxFactorizeException>(() => explicitTop1.Evaluate([Output("mask", 0.01, 0.9999)], null));
        Assert.Contains("--task classify", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new long[] { 4, 10 }, OutputTask.Auto, 4)]
    [InlineData(new long[] { 10 }, OutputTask.Auto, 1)]
    [InlineData(new long[] { 1, 1, 10 }, OutputTask.Auto, 1)]
    [InlineData(new long[] { 1, 21, 64, 64 }, OutputTask.Auto, 0)]      // segmentation map: no top-1 unless declared
    [InlineData(new long[] { 1, 21, 64, 64 }, OutputTask.Classify, 21 * 64)]
    [InlineData(new long[] { 2, 16, 5 }, OutputTask.Auto, 0)]           // a sequence of token scores
    [InlineData(new long[] { 4, 10 }, OutputTask.Other, 0)]
    public void Only_class_score_vectors_get_top1_unless_the_task_is_declared(long[] shape, OutputTask task, long rows)
        => Assert.Equal(rows, MetricsAccumulator.ScoreRows(shape, shape.Aggregate(1L, (a, b) => a * b), task));

    [Fact]
    public void A_segmentation_map_reports_no_top1_agreement()
    {
        var acc = new MetricsAccumulator("seg");
        acc.Add([1, 2, 2, 3], new double[12], Enumerable.Range(0, 12).Select(i => (double)i).ToArray(), floatingPoint: true);
        Assert.Null(acc.ToMetrics().Classification);
    }

    [Fact]
    public void The_speedup_interval_is_the_sign_test_interval_of_the_pair_ratios()
    {
        var ratios = Enumerable.Range(1, 20).Select(i => (double)i).ToArray();
        Assert.Equal((6.0, 15.0), LatencyBenchmark.MedianInterval(ratios));   // P(Bin(20, ½) ≤ 5) = 0.0207 ≤ 0.025 < P(≤ 6)
        Assert.Equal((1.0, 5.0), LatencyBenchmark.MedianInterval([1, 2, 3, 4, 5]));
    }

    [Fact]
    public void A_speedup_whose_interval_contains_one_is_no_significant_difference()
    {
        var noise = new LatencyResult { Original = new(1, 1, 1), Optimized = new(1, 1, 1), Speedup = 1.05, SpeedupLow = 0.88, SpeedupHigh = 1.19, Runs = 20, WarmupRuns = 3 };
        var faster = noise with { Speedup = 1.4, SpeedupLow = 1.3, SpeedupHigh = 1.5 };

        Assert.False(noise.Significant);
        Assert.StartsWith("no significant difference", noise.Describe(), StringComparison.Ordinal);
        Assert.True(faster.Significant);
        Assert.StartsWith("1.40x faster", faster.Describe(), StringComparison.Ordinal);
        var few = faster with { Runs = 5 };
        Assert.False(few.Significant);
        Assert.StartsWith("not measured reliably", few.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Measured_latency_of_identical_runs_has_an_interval_around_one()
    {
        var r = LatencyBenchmark.Measure(() => Thread.SpinWait(20_000), () => Thread.SpinWait(20_000), new LatencyOptions { WarmupRuns = 1, Runs = 21 });
        Assert.True(r.SpeedupLow <= r.Speedup && r.Speedup <= r.SpeedupHigh);
    }

    [Fact]
    public void An_integer_input_without_a_value_range_or_data_is_refused_with_the_fix()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => SampleLoader.Generate([Audio, SampleRate], new InputOptions()));
        Assert.Contains("'sample_rate' (int64[1])", e.Message, StringComparison.Ordinal);
        Assert.Contains("--input-value sample_rate=", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_values_and_ranges_feed_generated_samples()
    {
        var options = new InputOptions { Values = InputOptions.ParseValues(["sample_rate=16000"]), RandomSamples = 3 };
        var samples = SampleLoader.Generate([Audio, SampleRate], options, options.RandomSamples);
        Assert.All(samples, s => Assert.Equal([16000L], (long[])s.Inputs[1].Data));

        var ranged = SampleLoader.Generate([SampleRate], new InputOptions { IntRanges = InputOptions.ParseRanges(["sample_rate=8000:8001"]) });
        Assert.Equal([8000L], (long[])ranged[0].Inputs[0].Data);
        Assert.Throws<OnnxFactorizeException>(() => SampleLoader.Generate([Audio], new InputOptions { Values = InputOptions.ParseValues(["rate=1"]) }));
        Assert.Throws<OnnxFactorizeException>(() => InputOptions.ParseRanges(["ids=5"]));
    }

    [Fact]
    public void Validation_of_a_budget_uses_other_samples_and_at_least_as_many()
    {
        var calibration = new InputOptions { Seed = 3, RandomSamples = 6 };
        var validation = new InputOptions { Seed = 3 }.HeldOutFrom(calibration);

        Assert.NotEqual(calibration.Seed, validation.Seed);
        Assert.Equal(6, validation.RandomSamples);
        var a = SampleLoader.Generate([Audio], calibration, calibration.RandomSamples).Select(s => s.Inputs[0].ToDoubles()).ToList();
        var b = SampleLoader.Generate([Audio], validation, validation.RandomSamples).Select(s => s.Inputs[0].ToDoubles()).ToList();
        Assert.DoesNotContain(b, x => a.Any(y => x.SequenceEqual(y)));
        var fromFiles = new InputOptions { Path = "data" };
        Assert.Same(fromFiles, fromFiles.HeldOutFrom(calibration));
    }

    [Fact]
    public void A_budget_check_reports_planned_measured_and_margin()
    {
        var c = new HeldOutCheck { Metric = "relL2Error", Allowance = 0.02, Planned = 0.0193, CalibrationSamples = 4, Measured = HeldOutCheck.Measure("relL2Error", [Output("y", 0.0202, 0.99)]), Samples = 4, HeldOut = true };

        Assert.Equal(-0.0002, c.Margin, 9);
        Assert.Equal("Budget check (relL2Error): planned 0.0193 on 4 calibration sample(s), measured 0.0202 on 4 held-out sample(s); margin -0.0002 of 0.02 (budget exceeded).", c.Describe());
    }

    [Fact]
    public void The_cache_goes_to_the_users_cache_folder_not_the_working_folder()
    {
        Assert.Equal(Path.Combine("/x/cache", "onnx-factorize"), CacheLocation.For("/x/cache", windows: false));
        var home = CacheLocation.For(null, windows: false);
        Assert.Equal(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "onnx-factorize"), home);
        Assert.Equal(home, CacheLocation.For("relative/path", windows: false));
        Assert.True(Path.IsPathRooted(new BudgetOptions().CacheDirectory));
    }
}
