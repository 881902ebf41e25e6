using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class RankPolicyTests
{
    // σ² = 50, 25, 12.5, 6.25, 3.125, 3.125 → ‖W‖² = 100.
    private static readonly double[] Spectrum = [.. new[] { 50, 25, 12.5, 6.25, 3.125, 3.125 }.Select(Math.Sqrt)];

    [Fact]
    public void Fixed_returns_its_rank_whatever_the_spectrum()
    {
        Assert.Equal(4, RankPolicy.Fixed(4).SelectRank(Spectrum, 100, 6, 10));
        Assert.Equal(4, RankPolicy.Fixed(4).RequiredSingularValues(6, 10));
        Assert.Equal("fixed rank 4", RankPolicy.Fixed(4).ToString());
    }

    [Theory]
    [InlineData(0.5, 100, 200, 50)]
    [InlineData(0.3, 10, 20, 3)]
    [InlineData(0.01, 10, 20, 1)]
    [InlineData(1.0, 7, 5, 5)]
    public void Ratio_takes_the_ceiling_of_a_fraction_of_the_smaller_dimension(double ratio, int rows, int cols, int expected)
    {
        Assert.Equal(expected, RankPolicy.Ratio(ratio).SelectRank(Spectrum, 100, rows, cols));
    }

    [Theory]
    [InlineData(0.5, 1)]
    [InlineData(0.51, 2)]
    [InlineData(0.75, 2)]
    [InlineData(0.8, 3)]
    [InlineData(0.9375, 4)]
    [InlineData(1.0, 6)]
    public void Energy_picks_the_smallest_rank_reaching_the_fraction_of_the_frobenius_norm(double energy, int expected)
    {
        Assert.Equal(expected, RankPolicy.Energy(energy).SelectRank(Spectrum, 100, 6, 10));
    }

    [Fact]
    public void Energy_uses_the_exact_norm_so_a_truncated_spectrum_that_falls_short_asks_for_more()
    {
        // Only the top 2 values computed (75 % of the energy): 0.9 cannot be reached within them.
        Assert.Equal(3, RankPolicy.Energy(0.9).SelectRank(Spectrum.AsSpan(0, 2), 100, 60, 100));
        Assert.Equal(2, RankPolicy.Energy(0.75).SelectRank(Spectrum.AsSpan(0, 2), 100, 60, 100));
    }

    [Fact]
    public void Energy_needs_singular_values_up_to_one_past_break_even()
    {
        Assert.Equal(RankSelection.BreakEvenRank(768, 3072) + 1, RankPolicy.Energy(0.9).RequiredSingularValues(768, 3072));
    }

    [Theory]
    [InlineData(0.25, 100, 100, 12)]
    [InlineData(0.5, 768, 3072, 307)]
    [InlineData(0.01, 10, 10, 1)]
    public void Compression_keeps_the_largest_rank_within_the_parameter_budget(double ratio, int rows, int cols, int expected)
    {
        var k = RankPolicy.Compression(ratio).SelectRank([], 0, rows, cols);

        Assert.Equal(expected, k);
        Assert.True(k == 1 || (double)k * (rows + cols) <= ratio * rows * cols);
    }

    [Theory]
    [InlineData(0.0, "got 0")]
    [InlineData(1.5, "got 1.5")]
    [InlineData(double.NaN, "got NaN")]
    [InlineData(-0.1, "got -0.1")]
    public void Energy_outside_zero_to_one_is_rejected_naming_the_value(double energy, string fragment)
    {
        var ex = Assert.Throws<OnnxFactorizeException>(() => RankPolicy.Energy(energy));

        Assert.Contains("energy must be in (0, 1]", ex.Message, StringComparison.Ordinal);
        Assert.Contains(fragment, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_rank_ratio_and_compression_are_rejected_naming_the_value()
    {
        Assert.Equal("rank must be ≥ 1, got 0.", Assert.Throws<OnnxFactorizeException>(() => RankPolicy.Fixed(0)).Message);
        Assert.Equal("ratio must be in (0, 1], got 0.", Assert.Throws<OnnxFactorizeException>(() => RankPolicy.Ratio(0)).Message);
        Assert.Equal("compression must be in (0, 1), got 1.", Assert.Throws<OnnxFactorizeException>(() => RankPolicy.Compression(1)).Message);
        Assert.Contains("got NaN", Assert.Throws<OnnxFactorizeException>(() => RankPolicy.Ratio(double.NaN)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Policies_are_values_and_describe_themselves()
    {
        Assert.Equal(RankPolicy.Energy(0.99), RankPolicy.Energy(0.99));
        Assert.NotEqual(RankPolicy.Energy(0.99), RankPolicy.Ratio(0.99));
        Assert.Equal("energy 0.99", RankPolicy.Energy(0.99).ToString());
        Assert.Equal("ratio 0.25", RankPolicy.Ratio(0.25).ToString());
        Assert.Equal("compression 0.5", RankPolicy.Compression(0.5).ToString());
    }
}
