using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class RankSelectionTests
{
    [Theory]
    [InlineData(768, 3072)]
    [InlineData(4096, 4096)]
    [InlineData(3, 4)]
    [InlineData(2, 2)]
    [InlineData(1, 100)]
    [InlineData(100, 1)]
    public void Break_even_rank_is_the_largest_k_with_k_times_m_plus_n_below_m_times_n(int rows, int cols)
    {
        var k = RankSelection.BreakEvenRank(rows, cols);

        Assert.True((long)k * (rows + cols) < (long)rows * cols || k == 0);
        Assert.True((long)(k + 1) * (rows + cols) >= (long)rows * cols);
    }

    [Fact]
    public void Break_even_rank_of_known_shapes()
    {
        Assert.Equal(614, RankSelection.BreakEvenRank(768, 3072));
        Assert.Equal(2047, RankSelection.BreakEvenRank(4096, 4096));
        Assert.Equal(0, RankSelection.BreakEvenRank(1, 100));
    }

    [Fact]
    public void Rank_is_rounded_up_to_the_multiple()
    {
        var choice = RankSelection.Choose(RankPolicy.Fixed(37), [], 0, 768, 3072, rankMultiple: 8);

        Assert.Equal(new RankChoice(40, 614, true, choice.Explanation), choice);
        Assert.Contains("fixed rank 37", choice.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Rounding_up_never_exceeds_break_even()
    {
        // Break-even of 768×3072 is 614; 610 rounds to 640 with multiple 32, which would not save.
        var choice = RankSelection.Choose(RankPolicy.Fixed(610), [], 0, 768, 3072, rankMultiple: 32);

        Assert.Equal(614, choice.Rank);
        Assert.True(choice.Saves);
    }

    [Fact]
    public void A_rank_past_break_even_is_reported_as_not_saving()
    {
        var choice = RankSelection.Choose(RankPolicy.Ratio(0.9), [], 0, 768, 3072, rankMultiple: 8);

        Assert.False(choice.Saves);
        Assert.Equal(692, choice.Rank);
        Assert.Contains("would not save", choice.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rank_past_the_smaller_dimension_is_capped_there()
    {
        var choice = RankSelection.Choose(RankPolicy.Fixed(50), [], 0, 10, 40);

        Assert.Equal(10, choice.Rank);
        Assert.False(choice.Saves);
    }

    [Fact]
    public void Energy_choice_on_a_computed_spectrum_reaches_the_target()
    {
        var a = Matrices.Decaying(200, 120, 1.0, seed: 3);
        var svd = TruncatedSvd.ComputeExact(a, 200, 120);

        var choice = RankSelection.Choose(RankPolicy.Energy(0.9), svd.S, svd.FrobeniusNormSquared, 200, 120);

        Assert.True(choice.Saves);
        Assert.InRange(svd.RelativeError(choice.Rank), 0, Math.Sqrt(0.1) + 1e-9);
        Assert.True(svd.RelativeError(choice.Rank - 1) > Math.Sqrt(0.1));
    }

    [Fact]
    public void A_rank_multiple_below_one_is_rejected_naming_the_value()
    {
        var ex = Assert.Throws<OnnxFactorizeException>(() => RankSelection.Choose(RankPolicy.Fixed(4), [], 0, 10, 10, rankMultiple: 0));

        Assert.Equal("rank multiple must be ≥ 1, got 0.", ex.Message);
    }
}
