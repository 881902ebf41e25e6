using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class VbmfTests
{
    /// <summary>Singular values of a rows×cols matrix = low-rank signal (σ = <paramref name="signal"/>) + Gaussian noise of std 1.</summary>
    private static (double[] S, double Frob2) SignalPlusNoise(int rows, int cols, int rank, double signal, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var m = new float[rows * cols];
        for (var j = 0; j < m.Length; j++)
        {
            m[j] = (float)Normal();
        }

        // Add rank-`rank` signal along the first coordinate axes: σ_i = signal.
        for (var r = 0; r < rank; r++)
        {
            m[r * cols + r] += (float)signal;
        }

        var svd = TruncatedSvd.ComputeExact(m, rows, cols);
        return (svd.S, svd.FrobeniusNormSquared);
    }

    [Theory]
    [InlineData(40, 60, 5)]
    [InlineData(64, 64, 3)]
    [InlineData(30, 200, 8)]
    public void A_planted_rank_above_the_noise_edge_is_found(int rows, int cols, int rank)
    {
        var (s, frob2) = SignalPlusNoise(rows, cols, rank, signal: 10 * Math.Sqrt(Math.Max(rows, cols)), seed: rank);
        Assert.Equal(rank, Vbmf.EstimateRank(s, rows, cols, frob2));
    }

    [Fact]
    public void Pure_noise_gives_rank_one_never_zero()
    {
        var (s, frob2) = SignalPlusNoise(50, 70, 0, 0, seed: 9);
        Assert.Equal(1, Vbmf.EstimateRank(s, 50, 70, frob2));
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(8, 72)]
    [InlineData(1, 9)]
    public void Degenerate_spectra_still_give_a_rank_in_range(int rows, int cols)
    {
        var l = Math.Min(rows, cols);
        var flat = Enumerable.Repeat(1.0, l).ToArray();
        var zeros = new double[l];
        var single = new double[l];
        single[0] = 5;
        var withNaN = flat.Select((v, i) => i == l - 1 ? double.NaN : v).ToArray();
        foreach (var (s, frob2) in new[] { (flat, (double)l), (zeros, 0.0), (single, 25.0), (withNaN, l - 1.0), ([], 3.0) })
        {
            var rank = Vbmf.EstimateRank(s, rows, cols, frob2);
            Assert.InRange(rank, 1, l);
        }

        Assert.Equal(1, Vbmf.EstimateRank(single, rows, cols, 25));
    }

    [Fact]
    public void The_estimate_does_not_depend_on_orientation()
    {
        var (s, frob2) = SignalPlusNoise(30, 90, 4, 100, seed: 3);
        Assert.Equal(Vbmf.EstimateRank(s, 30, 90, frob2), Vbmf.EstimateRank(s, 90, 30, frob2));
    }
}
