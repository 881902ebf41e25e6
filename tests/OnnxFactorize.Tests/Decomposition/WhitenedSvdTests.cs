using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class WhitenedSvdTests
{
    private const int Out = 32;
    private const int In = 48;

    // Samples as rows (N×in): y_t = W·x_t is the t-th column of W·Xᵀ.
    private static float[] SubspaceInputs(int samples, int rank, int seed) =>
        Matrices.NaiveProduct(Matrices.Gaussian(samples, rank, seed), samples, rank, Matrices.Gaussian(rank, In, seed + 1), In);

    // Full-rank, strongly anisotropic inputs: column j scaled by (1+j)^-1.5, plus a common offset (non-zero mean).
    private static float[] AnisotropicInputs(int samples, int seed)
    {
        var x = Matrices.Gaussian(samples, In, seed);
        for (var t = 0; t < samples; t++)
        {
            for (var j = 0; j < In; j++)
            {
                x[t * In + j] = (float)(x[t * In + j] * Math.Pow(1 + j, -1.5) + 0.3);
            }
        }

        return x;
    }

    private static (InputWhitening Whitening, GramAccumulator Stats) Whiten(float[] rows, WhiteningOptions? options = null)
    {
        var stats = new GramAccumulator(In);
        stats.AddRows(rows);
        return (InputWhitening.FromGram(stats.Gram(), In, options), stats);
    }

    // ‖(W − Ŵ)·Xᵀ‖_F in double, both weights out×in.
    private static double OutputError(float[] w, float[] approximation, float[] x, int samples)
    {
        var sum = 0.0;
        for (var t = 0; t < samples; t++)
        {
            for (var o = 0; o < Out; o++)
            {
                var e = 0.0;
                for (var j = 0; j < In; j++)
                {
                    e += ((double)w[o * In + j] - approximation[o * In + j]) * x[t * In + j];
                }

                sum += e * e;
            }
        }

        return Math.Sqrt(sum);
    }

    private static double OutputNorm(float[] w, float[] x, int samples) => OutputError(w, new float[w.Length], x, samples);

    private static float[] PlainSvd(float[] w, int k)
    {
        var (left, right) = TruncatedSvd.ComputeExact(w, Out, In).BalancedFactors(k);
        return Matrices.NaiveProduct(left, Out, k, right, In);
    }

    [Fact]
    public void Inputs_in_a_rank_r_subspace_are_reproduced_at_rank_r_by_the_whitened_svd_but_not_by_the_plain_svd()
    {
        const int Samples = 400;
        const int R = 6;
        var w = Matrices.Gaussian(Out, In, seed: 1);
        var x = SubspaceInputs(Samples, R, seed: 2);
        var (whitening, _) = Whiten(x);

        var result = WhitenedSvd.Compute(w, Out, In, WeightLayout.OutByIn, whitening, R);

        var norm = OutputNorm(w, x, Samples);
        var whitenedError = OutputError(w, result.Reconstruct(R), x, Samples) / norm;
        var plainError = OutputError(w, PlainSvd(w, R), x, Samples) / norm;
        Assert.Equal(WhiteningMethod.RegularizedEigen, whitening.Method);
        Assert.True(whitenedError < 1e-4, $"whitened relative output error {whitenedError:E3}");
        Assert.True(plainError > 0.3, $"plain SVD relative output error {plainError:E3} (expected large: W's top directions ignore the data subspace)");
    }

    [Theory]
    [InlineData(4)]
    [InlineData(12)]
    [InlineData(30)]
    public void The_output_error_equals_the_tail_of_the_whitened_spectrum(int k)
    {
        const int Samples = 300;
        var w = Matrices.Decaying(Out, In, 0.3, seed: 3);
        var x = AnisotropicInputs(Samples, seed: 4);
        var (whitening, _) = Whiten(x);

        var result = WhitenedSvd.Compute(w, Out, In, WeightLayout.OutByIn, whitening, Math.Min(Out, In));

        Assert.Equal(WhiteningMethod.Cholesky, whitening.Method);
        Assert.True(whitening.IsExact);
        var actual = OutputError(w, result.Reconstruct(k), x, Samples);
        var predicted = result.PredictedOutputError(k);
        Assert.True(Math.Abs(actual - predicted) <= 2e-3 * predicted, $"actual {actual:G6} vs predicted {predicted:G6}");
        Assert.True(Math.Abs(Math.Sqrt(result.Spectrum.FrobeniusNormSquared) - OutputNorm(w, x, Samples)) <= 1e-4 * OutputNorm(w, x, Samples));
    }

    [Fact]
    public void No_rank_k_alternative_has_a_smaller_output_error()
    {
        const int Samples = 300;
        const int K = 8;
        var w = Matrices.Decaying(Out, In, 0.3, seed: 5);
        var x = AnisotropicInputs(Samples, seed: 6);
        var (whitening, _) = Whiten(x);
        var result = WhitenedSvd.Compute(w, Out, In, WeightLayout.OutByIn, whitening, K);
        var (left, right) = result.Factors(K);
        var best = OutputError(w, result.Reconstruct(K), x, Samples);

        Assert.True(OutputError(w, PlainSvd(w, K), x, Samples) > best);
        var rng = new Random(7);
        for (var trial = 0; trial < 20; trial++)
        {
            // Perturb both factors along random directions: still rank ≤ K, never better (Eckart–Young in whitened space).
            var scale = 0.02 * (1 + trial % 5);
            var l2 = left.Select(v => (float)(v * (1 + scale * (rng.NextDouble() - 0.5)))).ToArray();
            var r2 = right.Select(v => (float)(v + scale * Math.Abs(v) * (rng.NextDouble() - 0.5))).ToArray();
            var alternative = Matrices.NaiveProduct(l2, Out, K, r2, In);
            Assert.True(OutputError(w, alternative, x, Samples) >= best * (1 - 1e-6), $"trial {trial}");
        }
    }

    [Fact]
    public void A_rank_deficient_gram_falls_back_to_the_regularized_eigen_whitening_whose_error_bounds_the_data_error()
    {
        const int Samples = 200;
        const int R = 10;
        var w = Matrices.Gaussian(Out, In, seed: 8);
        var x = SubspaceInputs(Samples, R, seed: 9);
        var (whitening, _) = Whiten(x);

        var result = WhitenedSvd.Compute(w, Out, In, WeightLayout.OutByIn, whitening, 5);

        Assert.Equal(WhiteningMethod.RegularizedEigen, whitening.Method);
        Assert.Equal(In - R, whitening.LiftedDirections);
        Assert.False(whitening.IsExact);
        var (left, right) = result.Factors(5);
        Assert.All(left.Concat(right), v => Assert.True(float.IsFinite(v)));
        var actual = OutputError(w, result.Reconstruct(5), x, Samples);
        var predicted = result.PredictedOutputError(5);
        Assert.True(actual <= predicted * (1 + 1e-3), $"actual {actual:G6} must not exceed the predicted bound {predicted:G6}");
        Assert.True(actual >= 0.99 * predicted, $"the floor is tiny, so the bound is tight: actual {actual:G6}, predicted {predicted:G6}");
    }

    [Fact]
    public void A_zero_gram_is_refused_with_a_message_naming_the_cause()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => InputWhitening.FromGram(new double[9], 3));
        Assert.Contains("calibration", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_x_times_w_layout_gives_the_transposed_factors_of_the_w_times_x_layout()
    {
        const int Samples = 200;
        var w = Matrices.Decaying(Out, In, 0.3, seed: 10);
        var wt = new float[w.Length];
        MatrixOps.Transpose(w, Out, In, wt);
        var (whitening, _) = Whiten(AnisotropicInputs(Samples, seed: 11));

        var a = WhitenedSvd.Compute(w, Out, In, WeightLayout.OutByIn, whitening, 6).Reconstruct(6);
        var b = WhitenedSvd.Compute(wt, In, Out, WeightLayout.InByOut, whitening, 6);
        var (left, right) = b.Factors(6);

        Assert.Equal(In * 6, left.Length);
        Assert.Equal(6 * Out, right.Length);
        var bt = new float[w.Length];
        MatrixOps.Transpose(b.Reconstruct(6), In, Out, bt);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.True(Math.Abs(a[i] - bt[i]) <= 1e-4 * (1 + Math.Abs(a[i])), $"entry {i}: {a[i]} vs {bt[i]}");
        }
    }

    [Fact]
    public void A_gram_of_the_wrong_size_is_refused()
    {
        var (whitening, _) = Whiten(AnisotropicInputs(100, seed: 12));
        var e = Assert.Throws<OnnxFactorizeException>(() => WhitenedSvd.Compute(new float[Out * 20], Out, 20, WeightLayout.OutByIn, whitening, 4));
        Assert.Contains("48×48", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bias_correction_makes_the_mean_output_error_zero()
    {
        const int Samples = 250;
        var w = Matrices.Decaying(Out, In, 0.3, seed: 13);
        var x = AnisotropicInputs(Samples, seed: 14);
        var (whitening, stats) = Whiten(x);
        var approximation = WhitenedSvd.Compute(w, Out, In, WeightLayout.OutByIn, whitening, 4).Reconstruct(4);

        var delta = BiasCorrection.Delta(w, approximation, Out, In, WeightLayout.OutByIn, stats.Mean());

        for (var o = 0; o < Out; o++)
        {
            var meanError = 0.0;
            var scale = 0.0;
            for (var t = 0; t < Samples; t++)
            {
                var y = 0.0;
                var yHat = delta[o];
                for (var j = 0; j < In; j++)
                {
                    y += (double)w[o * In + j] * x[t * In + j];
                    yHat += (double)approximation[o * In + j] * x[t * In + j];
                }

                meanError += (y - yHat) / Samples;
                scale += Math.Abs(y) / Samples;
            }

            Assert.True(Math.Abs(meanError) <= 1e-5 * (1 + scale), $"output {o}: mean error {meanError:E3}");
        }
    }

    [Fact]
    public void An_energy_policy_on_the_whitened_spectrum_bounds_the_relative_output_error()
    {
        const int Samples = 300;
        var w = Matrices.Decaying(Out, In, 0.3, seed: 15);
        var x = AnisotropicInputs(Samples, seed: 16);
        var (whitening, _) = Whiten(x);
        var result = WhitenedSvd.Compute(w, Out, In, WeightLayout.OutByIn, whitening, Math.Min(Out, In));

        var choice = RankSelection.Choose(RankPolicy.Energy(0.99), result.Spectrum.S, result.Spectrum.FrobeniusNormSquared, Out, In);

        var relative = OutputError(w, result.Reconstruct(choice.Rank), x, Samples) / OutputNorm(w, x, Samples);
        Assert.True(relative <= Math.Sqrt(0.01) * 1.001, $"rank {choice.Rank}: relative output error {relative:G4} above sqrt(1 − 0.99)");
        Assert.True(choice.Rank == 1 || result.PredictedRelativeOutputError(choice.Rank - 1) > Math.Sqrt(0.01), "the chosen rank is the smallest that keeps 99 % of the output energy");
    }
}
