using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class LeastSquaresFactorTests
{
    private const int In = 30;
    private const int Out = 20;
    private const int K = 8;
    private const int N = 500;

    [Fact]
    public void Targets_that_are_an_exact_function_of_z_are_recovered()
    {
        var z = Matrices.Gaussian(N, K, seed: 1);
        var b0 = Matrices.Gaussian(Out, K, seed: 2);
        var y = Matrices.NaiveProduct(z, N, K, b0, Out, transB: true);
        var stats = new CrossGramAccumulator(K, Out);
        stats.AddRows(z.AsSpan(0, 123 * K), y.AsSpan(0, 123 * Out));
        stats.AddRows(z.AsSpan(123 * K), y.AsSpan(123 * Out));

        var b = LeastSquaresFactor.Solve(stats.ZZ(), stats.ZY(), K, Out, WeightLayout.OutByIn, relativeRidge: 0);

        for (var i = 0; i < b0.Length; i++)
        {
            Assert.True(Math.Abs(b[i] - b0[i]) <= 1e-4 * (1 + Math.Abs(b0[i])), $"entry {i}: {b[i]} vs {b0[i]}");
        }
    }

    [Fact]
    public void The_refit_last_factor_beats_the_truncated_one_and_no_perturbation_beats_it()
    {
        // y = W x; the first factor A (k×in) is the plain SVD's, the refit B minimizes ‖B A X − W X‖.
        var w = Matrices.Decaying(Out, In, 0.2, seed: 3);
        var x = Matrices.Gaussian(N, In, seed: 4);
        for (var t = 0; t < N; t++)
        {
            for (var j = 0; j < In; j++)
            {
                x[t * In + j] *= (float)Math.Pow(1 + j, -1.2);
            }
        }

        var (left, right) = TruncatedSvd.ComputeExact(w, Out, In).BalancedFactors(K);
        var z = Matrices.NaiveProduct(x, N, In, right, K, transB: true);
        var zx = new CrossGramAccumulator(K, In);
        zx.AddRows(z, x);
        var b = LeastSquaresFactor.SolveForWeight(zx.ZZ(), zx.ZY(), K, w, Out, In, WeightLayout.OutByIn, relativeRidge: 0);

        var y = Matrices.NaiveProduct(x, N, In, w, Out, transB: true);
        double Error(float[] factor) => Matrices.FrobeniusSquared(Matrices.NaiveProduct(z, N, K, factor, Out, transB: true).Zip(y, (p, q) => p - q).ToArray());
        var refit = Error(b);
        Assert.True(refit < 0.999 * Error(left), $"refit {refit:G6} vs truncated {Error(left):G6}");
        var rng = new Random(5);
        for (var trial = 0; trial < 10; trial++)
        {
            var perturbed = b.Select(v => (float)(v + 0.01 * (rng.NextDouble() - 0.5))).ToArray();
            Assert.True(Error(perturbed) >= refit * (1 - 1e-6), $"trial {trial}");
        }

        // The residual from statistics alone matches the direct one.
        var zy = new CrossGramAccumulator(K, Out);
        zy.AddRows(z, y);
        var energy = Matrices.FrobeniusSquared(y);
        var predicted = LeastSquaresFactor.ResidualEnergy(b, WeightLayout.OutByIn, zy.ZZ(), zy.ZY(), K, Out, energy);
        Assert.True(Math.Abs(predicted - refit) <= 1e-3 * refit + 1e-6 * energy, $"predicted {predicted:G6} vs direct {refit:G6}");
    }

    [Fact]
    public void The_in_by_out_layout_returns_the_transpose()
    {
        var z = Matrices.Gaussian(N, K, seed: 6);
        var y = Matrices.Gaussian(N, Out, seed: 7);
        var stats = new CrossGramAccumulator(K, Out);
        stats.AddRows(z, y);

        var b = LeastSquaresFactor.Solve(stats.ZZ(), stats.ZY(), K, Out, WeightLayout.OutByIn);
        var bt = LeastSquaresFactor.Solve(stats.ZZ(), stats.ZY(), K, Out, WeightLayout.InByOut);

        for (var o = 0; o < Out; o++)
        {
            for (var i = 0; i < K; i++)
            {
                Assert.Equal(b[o * K + i], bt[i * Out + o]);
            }
        }
    }

    [Fact]
    public void A_singular_system_without_ridge_is_refused_with_a_message()
    {
        var zz = new double[K * K];
        var e = Assert.Throws<OnnxFactorizeException>(() => LeastSquaresFactor.Solve(zz, new double[K * Out], K, Out, WeightLayout.OutByIn, relativeRidge: 0));
        Assert.Contains("ridge", e.Message, StringComparison.Ordinal);
    }
}
