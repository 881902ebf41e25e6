using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class MatrixOpsTests
{
    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(7, 13, 5, false, false)]
    [InlineData(37, 300, 19, false, false)]
    [InlineData(37, 300, 19, true, false)]
    [InlineData(37, 300, 19, false, true)]
    [InlineData(37, 300, 19, true, true)]
    [InlineData(101, 517, 67, true, false)]
    [InlineData(200, 33, 150, false, true)]
    public void Gemm_matches_a_naive_triple_loop_for_odd_sizes_and_transposes(int m, int k, int n, bool transA, bool transB)
    {
        var a = Matrices.Gaussian(m, k, seed: 1);
        var b = Matrices.Gaussian(k, n, seed: 2);
        var expected = Matrices.NaiveProduct(a, m, k, b, n, transA, transB);
        var actual = new float[m * n];

        MatrixOps.Gemm(a, m, k, b, n, actual, transA, transB);

        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * Math.Sqrt(k) + 1e-5, $"element {i}: {actual[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void Gemm_gives_bitwise_identical_results_single_threaded_and_parallel()
    {
        const int m = 150, k = 700, n = 90;
        var a = Matrices.Gaussian(m, k, seed: 3);
        var b = Matrices.Gaussian(k, n, seed: 4);
        var serial = new float[m * n];
        var parallel = new float[m * n];

        MatrixOps.Gemm(a, m, k, b, n, serial, false, false, maxDegreeOfParallelism: 1);
        MatrixOps.Gemm(a, m, k, b, n, parallel, false, false, maxDegreeOfParallelism: -1);

        Assert.Equal(serial, parallel);
    }

    [Fact]
    public void Gemm_rejects_a_span_too_short_for_the_shape()
    {
        var ex = Assert.Throws<ArgumentException>(() => MatrixOps.Gemm(new float[5], 2, 3, new float[6], 2, new float[4]));
        Assert.Contains("6", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Transpose_swaps_rows_and_columns()
    {
        var x = new float[] { 1, 2, 3, 4, 5, 6 };
        var t = new float[6];

        MatrixOps.Transpose(x, 2, 3, t);

        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, t);
    }
}
