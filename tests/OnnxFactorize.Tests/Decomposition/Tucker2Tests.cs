using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class Tucker2Tests
{
    private static float[] RandomTensor(int o, int i, int s, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, o * i * s).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    /// <summary>W = G ×₀ A ×₁ B with random A[o, ra], B[i, rb], G[ra, rb, s]: multilinear rank (ra, rb) exactly.</summary>
    private static float[] LowMultilinearRank(int o, int i, int s, int ra, int rb, int seed)
    {
        var a = RandomTensor(o, ra, 1, seed);
        var b = RandomTensor(i, rb, 1, seed + 1);
        var g = RandomTensor(ra, rb, s, seed + 2);
        var w = new float[o * i * s];
        for (var p = 0; p < o; p++)
        {
            for (var q = 0; q < i; q++)
            {
                for (var x = 0; x < s; x++)
                {
                    double sum = 0;
                    for (var u = 0; u < ra; u++)
                    {
                        for (var v = 0; v < rb; v++)
                        {
                            sum += a[p * ra + u] * g[(u * rb + v) * s + x] * b[q * rb + v];
                        }
                    }

                    w[(p * i + q) * s + x] = (float)sum;
                }
            }
        }

        return w;
    }

    private static double RelativeError(float[] w, float[] approx)
    {
        double diff = 0, norm = 0;
        for (var j = 0; j < w.Length; j++)
        {
            diff += ((double)w[j] - approx[j]) * ((double)w[j] - approx[j]);
            norm += (double)w[j] * w[j];
        }

        return Math.Sqrt(diff / norm);
    }

    [Fact]
    public void A_tensor_of_low_multilinear_rank_is_recovered_exactly()
    {
        var w = LowMultilinearRank(12, 10, 9, 3, 4, seed: 1);
        var t = Tucker2.Decompose(w, 12, 10, 9, rankOut: 3, rankIn: 4);
        Assert.InRange(t.RelativeError, 0, 1e-5);
        Assert.InRange(RelativeError(w, t.Reconstruct()), 0, 1e-5);
        var (sOut, sIn) = Tucker2.ModeSpectra(w, 12, 10, 9);
        Assert.True(sOut[3] < 1e-5 * sOut[0], $"mode-0 rank is 3, σ₃ = {sOut[3]}");
        Assert.True(sIn[4] < 1e-5 * sIn[0], $"mode-1 rank is 4, σ₄ = {sIn[4]}");
    }

    [Theory]
    [InlineData(16, 12, 9, 4, 3, 2)]
    [InlineData(10, 20, 3, 5, 7, 3)]
    [InlineData(8, 8, 25, 2, 2, 4)]
    public void Hooi_fits_at_least_as_well_as_hosvd_and_its_error_identity_holds(int o, int i, int s, int ro, int ri, int seed)
    {
        var w = RandomTensor(o, i, s, seed);
        var t = Tucker2.Decompose(w, o, i, s, ro, ri);
        Assert.True(t.RelativeError <= t.HosvdRelativeError + 1e-12, $"HOOI {t.RelativeError} > HOSVD {t.HosvdRelativeError}");

        // ‖W − Ŵ‖² = ‖W‖² − ‖G‖² for orthonormal factors: the reported error is the reconstruction's.
        Assert.Equal(t.RelativeError, RelativeError(w, t.Reconstruct()), 4);
        var hosvdOnly = Tucker2.Decompose(w, o, i, s, ro, ri, maxIterations: 0);
        Assert.Equal(0, hosvdOnly.Iterations);
        Assert.Equal(t.HosvdRelativeError, hosvdOnly.RelativeError, 12);
    }

    [Fact]
    public void Factors_have_orthonormal_columns()
    {
        var t = Tucker2.Decompose(RandomTensor(14, 11, 9, 5), 14, 11, 9, 5, 6);
        AssertOrthonormal(t.UOut, 14, 5);
        AssertOrthonormal(t.UIn, 11, 6);
    }

    [Fact]
    public void Full_ranks_reproduce_the_tensor()
    {
        var w = RandomTensor(6, 5, 4, 6);
        var t = Tucker2.Decompose(w, 6, 5, 4, 6, 5);
        Assert.InRange(RelativeError(w, t.Reconstruct()), 0, 1e-6);
    }

    [Fact]
    public void Bad_ranks_and_sizes_throw()
    {
        var w = RandomTensor(4, 3, 2, 7);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tucker2.Decompose(w, 4, 3, 2, 5, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tucker2.Decompose(w, 4, 3, 2, 1, 0));
        Assert.Throws<ArgumentException>(() => Tucker2.Decompose(w, 4, 3, 3, 1, 1));
    }

    private static void AssertOrthonormal(float[] u, int rows, int k)
    {
        for (var a = 0; a < k; a++)
        {
            for (var b = 0; b < k; b++)
            {
                double dot = 0;
                for (var r = 0; r < rows; r++)
                {
                    dot += u[r * k + a] * u[r * k + b];
                }

                Assert.Equal(a == b ? 1.0 : 0.0, dot, 5);
            }
        }
    }
}
