using OnnxFactorize.Benchmarks.Aimet;

namespace OnnxFactorize.Tests.Planning;

public class AimetGreedyBaselineTests
{
    // Three layers of cost 100 each. "robust" compresses cheaply, "middle" moderately, "fragile" hurts at every ratio.
    private static readonly IReadOnlyList<AimetLayer> Dictionary =
    [
        new("robust", 100, [new(0.1, 1, 10, 0.04), new(0.3, 3, 30, 0.01), new(0.5, 5, 50, 0.002)]),
        new("middle", 100, [new(0.1, 1, 10, 0.2), new(0.3, 3, 30, 0.05), new(0.5, 5, 50, 0.02)]),
        new("fragile", 100, [new(0.5, 5, 50, 0.5), new(0.9, 9, 90, 0.3)]),
    ];

    [Fact]
    public void Each_layer_takes_its_smallest_ratio_within_the_threshold_or_stays_uncompressed()
    {
        Assert.Equal([1, 2, -1], AimetGreedyBaseline.Choose(Dictionary, 0.02));
        Assert.Equal([0, 1, -1], AimetGreedyBaseline.Choose(Dictionary, 0.05));
        Assert.Equal([-1, -1, -1], AimetGreedyBaseline.Choose(Dictionary, 0.001));
        Assert.Equal([0, 0, 1], AimetGreedyBaseline.Choose(Dictionary, 0.3));
    }

    [Fact]
    public void Overall_ratio_counts_an_uncompressed_layer_at_its_full_cost()
    {
        Assert.Equal((30 + 50 + 100) / 300.0, AimetGreedyBaseline.OverallRatio(Dictionary, [1, 2, -1]), 12);
        Assert.Equal(1.0, AimetGreedyBaseline.OverallRatio(Dictionary, [-1, -1, -1]), 12);
    }

    [Fact]
    public void Threshold_search_lands_within_tolerance_of_a_reachable_target()
    {
        // (10 + 30 + 100) / 300 = 0.4667 is reached by thresholds in [0.05, 0.2).
        var selection = AimetGreedyBaseline.Select(Dictionary, 0.47);

        Assert.Equal([0, 1, -1], selection.Choice);
        Assert.Equal(140 / 300.0, selection.OverallRatio, 12);
        Assert.InRange(selection.Threshold, 0.05, 0.2);
    }

    [Fact]
    public void Between_steps_the_search_meets_the_target_with_the_least_damage()
    {
        // Reachable ratios near 0.55: 0.6 (threshold 0.02) and 0.5333 (0.04); 0.55 needs the second.
        var selection = AimetGreedyBaseline.Select(Dictionary, 0.55);

        Assert.Equal([0, 2, -1], selection.Choice);
        Assert.True(selection.OverallRatio <= 0.55);
    }

    [Fact]
    public void An_unreachable_target_gets_the_most_compression_the_dictionary_offers()
    {
        var selection = AimetGreedyBaseline.Select(Dictionary, 0.05);

        Assert.Equal([0, 0, 0], selection.Choice);
        Assert.Equal(70 / 300.0, selection.OverallRatio, 12);
    }

    [Fact]
    public void An_empty_dictionary_compresses_nothing()
    {
        var selection = AimetGreedyBaseline.Select([new AimetLayer("x", 100, [])], 0.5);

        Assert.Equal([-1], selection.Choice);
        Assert.Equal(1.0, selection.OverallRatio);
    }
}
