using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

public class LatencyTests
{
    [Fact]
    public void Runs_are_interleaved_in_alternating_order_after_warm_up()
    {
        var log = new List<char>();
        var result = LatencyBenchmark.Measure(() => log.Add('A'), () => log.Add('B'), new LatencyOptions { WarmupRuns = 2, Runs = 3 });

        Assert.Equal("ABAB" + "AB" + "BA" + "AB", new string([.. log]));
        Assert.Equal(3, result.Runs);
        Assert.Equal(2, result.WarmupRuns);
    }

    [Fact]
    public void Median_p90_and_min_match_hand_computed_values()
    {
        double[] ms = [5, 1, 4, 2, 3, 10, 6, 7, 9, 8];
        var s = LatencyBenchmark.Summarize(ms);

        Assert.Equal(5.5, s.MedianMs);
        Assert.Equal(9, s.P90Ms);   // nearest rank: ceil(0.9 * 10) = 9th smallest
        Assert.Equal(1, s.MinMs);
        Assert.Equal(3, LatencyBenchmark.Median([3, 1, 100]));
    }

    [Fact]
    public void Speedup_is_the_median_of_per_pair_ratios()
    {
        var slow = 0;
        var result = LatencyBenchmark.Measure(
            () => Thread.Sleep(++slow % 2 == 0 ? 8 : 4),
            () => Thread.Sleep(2),
            new LatencyOptions { WarmupRuns = 0, Runs = 5 });

        Assert.InRange(result.Speedup, 1.2, 8);
        Assert.True(result.Original.MedianMs > result.Optimized.MedianMs);
    }

    [Theory]
    [InlineData(-1, 10, 0, "cpu", "WarmupRuns is -1")]
    [InlineData(1, 0, 0, "cpu", "Runs is 0")]
    [InlineData(1, 1, -2, "cpu", "IntraOpThreads is -2")]
    [InlineData(1, 1, 0, "tpu", "'tpu'")]
    public void Bad_latency_options_are_named(int warmup, int runs, int threads, string ep, string expected)
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => new LatencyOptions { WarmupRuns = warmup, Runs = runs, IntraOpThreads = threads, ExecutionProvider = ep }.Validate());
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
