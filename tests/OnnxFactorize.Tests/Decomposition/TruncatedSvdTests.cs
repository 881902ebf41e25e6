using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class TruncatedSvdTests
{
    // Float32 data and float32 factors: orthonormality and singular values are good to a few ulps of float times √n.
    private const double OrthonormalityTolerance = 2e-4;

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 60, 40, 10 },     // exact path (small)
        { 40, 70, 40 },     // exact path, full rank requested, wide
        { 300, 200, 20 },   // randomized, tall
        { 180, 400, 25 },   // randomized, wide
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void U_columns_and_V_rows_are_orthonormal(int rows, int cols, int rank)
    {
        var a = Matrices.Decaying(rows, cols, 0.5, seed: rows);

        var svd = TruncatedSvd.Compute(a, rows, cols, rank);

        Assert.Equal(rank, svd.Rank);
        Assert.InRange(Matrices.ColumnOrthonormalityError(svd.U, rows, rank), 0, OrthonormalityTolerance);
        Assert.InRange(Matrices.RowOrthonormalityError(svd.Vt, rank, cols), 0, OrthonormalityTolerance);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Singular_values_match_the_exact_svd_on_random_matrices(int rows, int cols, int rank)
    {
        var a = Matrices.Decaying(rows, cols, 0.5, seed: rows + 1);
        var exact = TruncatedSvd.ComputeExact(a, rows, cols);

        var svd = TruncatedSvd.Compute(a, rows, cols, rank);

        for (var i = 0; i < rank; i++)
        {
            Assert.True(Math.Abs(svd.S[i] - exact.S[i]) <= 2e-3 * exact.S[i], $"σ{i}: {svd.S[i]} vs exact {exact.S[i]}");
        }
    }

    [Theory]
    [InlineData(300, 200, 12, 12)]
    [InlineData(300, 200, 12, 30)]
    [InlineData(50, 80, 5, 20)]
    public void Singular_values_match_the_exact_svd_on_rank_deficient_matrices(int rows, int cols, int trueRank, int rank)
    {
        var a = Matrices.LowRank(rows, cols, trueRank, seed: 7);
        var exact = TruncatedSvd.ComputeExact(a, rows, cols);

        var svd = TruncatedSvd.Compute(a, rows, cols, rank);

        var scale = exact.S[0];
        for (var i = 0; i < rank; i++)
        {
            Assert.True(Math.Abs(svd.S[i] - exact.S[i]) <= 1e-4 * scale, $"σ{i}: {svd.S[i]} vs exact {exact.S[i]}");
        }

        for (var i = trueRank; i < exact.Rank; i++)
        {
            Assert.True(exact.S[i] <= 1e-5 * scale, $"exact σ{i} = {exact.S[i]} should vanish");
        }

        Assert.InRange(Matrices.ColumnOrthonormalityError(svd.U, rows, rank), 0, OrthonormalityTolerance);
        Assert.InRange(Matrices.RowOrthonormalityError(svd.Vt, rank, cols), 0, OrthonormalityTolerance);
    }

    [Fact]
    public void Exact_svd_reconstructs_the_input()
    {
        const int rows = 45, cols = 30;
        var a = Matrices.Gaussian(rows, cols, seed: 11);

        var svd = TruncatedSvd.ComputeExact(a, rows, cols);

        Assert.Equal(30, svd.Rank);
        Assert.InRange(Matrices.Residual(a, rows, cols, svd), 0, 1e-5 * Math.Sqrt(Matrices.FrobeniusSquared(a)));
        Assert.InRange(Matrices.ColumnOrthonormalityError(svd.U, rows, cols), 0, OrthonormalityTolerance);
    }

    [Theory]
    [InlineData(120, 90, 15)]
    [InlineData(300, 200, 20)]
    public void Relative_error_equals_the_square_root_of_the_tail_energy_of_the_exact_spectrum(int rows, int cols, int rank)
    {
        var a = Matrices.Decaying(rows, cols, 0.5, seed: 5);
        var exact = TruncatedSvd.ComputeExact(a, rows, cols);
        var normSq = Matrices.FrobeniusSquared(a);
        var tail = exact.S.Skip(rank).Sum(s => s * s);

        var svd = TruncatedSvd.Compute(a, rows, cols, rank);

        Assert.Equal(normSq, svd.FrobeniusNormSquared, 1e-9 * normSq);
        Assert.Equal(Math.Sqrt(tail / normSq), svd.RelativeError(rank), 1e-3);
        Assert.Equal(tail, svd.TailEnergy(rank), 2e-3 * tail);

        // Eckart–Young: the computed rank-k factors achieve (nearly) that optimum.
        var residual = Matrices.Residual(a, rows, cols, svd);
        Assert.InRange(residual, 0, 1.01 * Math.Sqrt(tail));
    }

    [Fact]
    public void Same_seed_gives_bitwise_identical_results()
    {
        var a = Matrices.Decaying(300, 250, 0.5, seed: 9);
        var options = new SvdOptions { Seed = 42 };

        var first = TruncatedSvd.Compute(a, 300, 250, 20, options);
        var second = TruncatedSvd.Compute(a, 300, 250, 20, options);

        Assert.Equal(first.U, second.U);
        Assert.Equal(first.S, second.S);
        Assert.Equal(first.Vt, second.Vt);
    }

    [Fact]
    public void Balanced_factors_multiply_back_to_the_truncation()
    {
        const int rows = 150, cols = 110, rank = 12;
        var a = Matrices.Decaying(rows, cols, 0.7, seed: 13);
        var svd = TruncatedSvd.Compute(a, rows, cols, rank);
        var truncation = new float[rows * cols];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                var sum = 0.0;
                for (var p = 0; p < rank; p++)
                {
                    sum += svd.U[i * rank + p] * svd.S[p] * svd.Vt[p * cols + j];
                }

                truncation[i * cols + j] = (float)sum;
            }
        }

        var (left, right) = svd.BalancedFactors(8);
        var product = Matrices.NaiveProduct(left, rows, 8, right, cols);
        var (fullLeft, fullRight) = svd.BalancedFactors(rank);
        var fullProduct = Matrices.NaiveProduct(fullLeft, rows, rank, fullRight, cols);

        Assert.Equal(rows * 8, left.Length);
        Assert.Equal(8 * cols, right.Length);
        for (var i = 0; i < truncation.Length; i++)
        {
            Assert.Equal(truncation[i], fullProduct[i], 1e-4);
        }

        var error8 = Math.Sqrt(a.Zip(product, (x, y) => (double)(x - y) * (x - y)).Sum());
        Assert.Equal(svd.RelativeError(8) * Math.Sqrt(svd.FrobeniusNormSquared), error8, 1e-3 * error8);
    }

    [Fact]
    public void A_cancelled_token_stops_the_computation()
    {
        var a = Matrices.Decaying(300, 200, 0.5, seed: 1);
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => TruncatedSvd.Compute(a, 300, 200, 20, cancellationToken: cts.Token));
        Assert.ThrowsAny<OperationCanceledException>(() => TruncatedSvd.ComputeExact(a, 300, 200, cts.Token));
    }

    [Fact]
    public void Explicit_power_iterations_and_oversamples_are_honoured()
    {
        var a = Matrices.Decaying(400, 300, 0.3, seed: 17);
        var none = TruncatedSvd.Compute(a, 400, 300, 20, new SvdOptions { PowerIterations = 0, Oversamples = 5 });
        var many = TruncatedSvd.Compute(a, 400, 300, 20, new SvdOptions { PowerIterations = 6 });
        var exact = TruncatedSvd.ComputeExact(a, 400, 300);

        var optimum = exact.RelativeError(20) * Math.Sqrt(exact.FrobeniusNormSquared);
        Assert.True(Matrices.Residual(a, 400, 300, many) <= Matrices.Residual(a, 400, 300, none));
        Assert.InRange(Matrices.Residual(a, 400, 300, many), 0, 1.005 * optimum);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    public void A_rank_outside_one_to_min_dimension_is_rejected_naming_the_value(int rank)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => TruncatedSvd.Compute(new float[30 * 40], 30, 40, rank));
        Assert.Contains($"got {rank}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_options_name_the_bad_value()
    {
        Assert.Contains("got -1", Assert.Throws<OnnxFactorizeException>(() => new SvdOptions { Oversamples = -1 }).Message, StringComparison.Ordinal);
        Assert.Contains("got -2", Assert.Throws<OnnxFactorizeException>(() => new SvdOptions { PowerIterations = -2 }).Message, StringComparison.Ordinal);
        Assert.Contains("got 0", Assert.Throws<OnnxFactorizeException>(() => new SvdOptions { MaxDegreeOfParallelism = 0 }).Message, StringComparison.Ordinal);
    }
}
