using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

/// <summary>The GEMM/subspace-iteration Tucker-2 engine against mathematical facts and against the exact double path.</summary>
public class Tucker2FastTests
{
    private static float[] Gaussian(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (var j = 0; j < count; j++)
        {
            values[j] = (float)Orthonormalizer.Gaussian(random);
        }

        return values;
    }

    /// <summary>W[o,i,s] with decaying mode spectra: Gaussian core mixed by A·diag((1+j)^-1) on both channel modes.</summary>
    private static float[] Decaying(int o, int i, int s, int seed)
    {
        var core = Gaussian(o * i * s, seed);
        var a = Gaussian(o * o, seed + 1);
        var b = Gaussian(i * i, seed + 2);
        for (var r = 0; r < o; r++)
        {
            for (var c = 0; c < o; c++)
            {
                a[r * o + c] /= 1 + c;
            }
        }

        for (var r = 0; r < i; r++)
        {
            for (var c = 0; c < i; c++)
            {
                b[r * i + c] /= 1 + c;
            }
        }

        var mixedOut = new float[o * i * s];
        MatrixOps.Gemm(a, o, o, core, i * s, mixedOut);
        var w = new float[o * i * s];
        var row = new float[i * s];
        for (var p = 0; p < o; p++)
        {
            // w[p] (i×s) = B · mixedOut[p] (i×s)
            MatrixOps.Gemm(b, i, i, mixedOut.AsSpan(p * i * s, i * s), s, row);
            row.CopyTo(w.AsSpan(p * i * s));
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

    private static void AssertOrthonormal(float[] u, int rows, int k, double tolerance)
    {
        for (var a = 0; a < k; a++)
        {
            for (var b = 0; b < k; b++)
            {
                double dot = 0;
                for (var r = 0; r < rows; r++)
                {
                    dot += (double)u[r * k + a] * u[r * k + b];
                }

                Assert.True(Math.Abs(dot - (a == b ? 1.0 : 0.0)) < tolerance, $"UᵀU[{a},{b}] = {dot}");
            }
        }
    }

    [Theory]
    [InlineData(64, 48, 9, 16, 12)]
    [InlineData(160, 130, 9, 40, 32)] // oversampled subspace iteration (l < 0.8·n) on both modes
    [InlineData(200, 64, 9, 100, 16)]
    public void Factors_are_orthonormal_and_the_reported_error_is_the_reconstruction_error(int o, int i, int s, int ro, int ri)
    {
        var w = Decaying(o, i, s, seed: o + i);
        var t = Tucker2.Decompose(w, o, i, s, ro, ri);
        AssertOrthonormal(t.UOut, o, ro, 1e-4);
        AssertOrthonormal(t.UIn, i, ri, 1e-4);
        Assert.Equal(RelativeError(w, t.Reconstruct()), t.RelativeError, 5);
        Assert.True(t.RelativeError <= t.HosvdRelativeError, $"HOOI {t.RelativeError} > HOSVD {t.HosvdRelativeError}");
    }

    [Theory]
    [InlineData(24, 20, 9, 6, 5, false)]
    [InlineData(40, 32, 9, 10, 8, true)]
    [InlineData(96, 80, 9, 24, 20, true)]
    [InlineData(150, 140, 4, 30, 28, false)] // subspace iteration, not the small-mode exact eigen path
    public void The_fit_agrees_with_the_exact_double_precision_hooi(int o, int i, int s, int ro, int ri, bool decaying)
    {
        var w = decaying ? Decaying(o, i, s, seed: 3) : Gaussian(o * i * s, seed: 3);
        var fast = Tucker2.Decompose(w, o, i, s, ro, ri);
        var exact = Tucker2Exact.Decompose(w, o, i, s, ro, ri);

        // Both are local optima of the same fit; the fast one may not be worse by more than 0.1 % of the exact error.
        Assert.True(fast.RelativeError <= exact.RelativeError * 1.001 + 1e-6, $"fast {fast.RelativeError} vs exact {exact.RelativeError}");

        // The HOSVD error bound (De Lathauwer et al. 2000, Property 10): ‖W − Ŵ‖² ≤ tail_out(r_out) + tail_in(r_in).
        var (sOut, sIn) = Tucker2.ModeSpectra(w, o, i, s);
        var norm2 = w.Sum(v => (double)v * v);
        var bound = sOut.Skip(ro).Sum(v => v * v) + sIn.Skip(ri).Sum(v => v * v);
        Assert.True(fast.RelativeError * fast.RelativeError * norm2 <= bound * (1 + 1e-4), $"error² {fast.RelativeError * fast.RelativeError * norm2} above the HOSVD bound {bound}");
    }

    [Fact]
    public void Results_are_bitwise_identical_for_one_and_two_workers_and_repeat_for_a_seed()
    {
        var w = Gaussian(192 * 160 * 9, seed: 11);
        Tucker2Result Run(int workers, int seed) =>
            Tucker2.Decompose(w, 192, 160, 9, 48, 40, new Tucker2Options { MaxIterations = 4, MaxDegreeOfParallelism = workers, Seed = seed });
        var one = Run(1, 0);
        var two = Run(2, 0);
        var again = Run(2, 0);
        Assert.Equal(one.UOut, two.UOut);
        Assert.Equal(one.UIn, two.UIn);
        Assert.Equal(one.Core, two.Core);
        Assert.Equal(one.RelativeError, two.RelativeError);
        Assert.Equal(two.Core, again.Core);
        Assert.Equal(one.Iterations, two.Iterations);
    }

    [Fact]
    public void Eigenvalues_alone_match_the_full_decomposition()
    {
        const int n = 70;
        var x = Gaussian(n * 90, seed: 5);
        var gram = MatrixOps.GramRowsDouble(x, n, 90, 1);
        var (values, _) = SymmetricEigen.Decompose(gram, n, CancellationToken.None);
        var alone = SymmetricEigen.Values(gram, n, CancellationToken.None);
        for (var j = 0; j < n; j++)
        {
            Assert.Equal(values[j], alone[j], 1e-9 * values[0]);
        }
    }

    [Fact]
    public void The_blocked_gram_is_exactly_symmetric_and_matches_the_double_gram()
    {
        const int rows = 300, cols = 50;
        var x = Gaussian(rows * cols, seed: 9);
        var g = Tucker2Hooi.Gram(x, rows, cols, -1);
        var exact = MatrixOps.GramRowsDouble(x, rows, cols, 1);
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < rows; j++)
            {
                Assert.Equal(g[i * rows + j], g[j * rows + i]);
                Assert.Equal(exact[i * rows + j], g[i * rows + j], 1e-4 * cols);
            }
        }
    }

    [Fact]
    public void Bad_options_name_the_value()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => new Tucker2Options { MaxIterations = -1 });
        Assert.Contains("MaxIterations", e.Message);
        Assert.Throws<OnnxFactorizeException>(() => new Tucker2Options { Tolerance = double.NaN });
        Assert.Throws<OnnxFactorizeException>(() => new Tucker2Options { MaxDegreeOfParallelism = 0 });
    }
}
