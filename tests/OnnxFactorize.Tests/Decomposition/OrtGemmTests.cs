using OnnxFactorize.Decomposition;
using OnnxFactorize.Runtime;

namespace OnnxFactorize.Tests.Decomposition;

public class OrtGemmTests
{
    // Each shape is above MatrixOps.OrtThreshold, so the default backend is ONNX Runtime.
    [Theory]
    [InlineData(300, 500, 70, false, false)]
    [InlineData(300, 500, 70, true, false)]
    [InlineData(300, 500, 70, false, true)]
    [InlineData(300, 500, 70, true, true)]
    [InlineData(97, 1031, 61, true, false)]
    public void Onnx_runtime_products_match_the_managed_kernel_within_float_tolerance(int m, int k, int n, bool transA, bool transB)
    {
        Assert.True((long)m * n * k >= MatrixOps.OrtThreshold);
        var a = Matrices.Gaussian(m, k, seed: 5);
        var b = Matrices.Gaussian(k, n, seed: 6);
        var ort = new float[m * n];
        var managed = new float[m * n];

        Assert.True(OrtGemm.TryGemm(a, m, k, b, n, ort, transA, transB, threads: 2), OrtGemm.Failure);
        MatrixOps.ManagedGemm(a, m, k, b, n, managed, transA, transB, maxDegreeOfParallelism: -1);

        // Both sum k products of unit Gaussians in float: rounding grows like sqrt(k)·ε·|terms|.
        for (var i = 0; i < ort.Length; i++)
        {
            Assert.True(Math.Abs(ort[i] - managed[i]) <= 1e-4 * Math.Sqrt(k), $"element {i}: {ort[i]} vs {managed[i]}");
        }
    }

    [Fact]
    public void Onnx_runtime_products_are_bitwise_identical_run_to_run_and_across_thread_counts()
    {
        const int m = 400, k = 900, n = 130;
        var a = Matrices.Gaussian(m, k, seed: 7);
        var b = Matrices.Gaussian(k, n, seed: 8);
        var first = new float[m * n];
        var second = new float[m * n];
        var single = new float[m * n];

        MatrixOps.GemmCore(a, m, k, b, n, first, false, false, -1);
        MatrixOps.GemmCore(a, m, k, b, n, second, false, false, -1);
        MatrixOps.GemmCore(a, m, k, b, n, single, false, false, 1);

        Assert.True(OrtGemm.Available, OrtGemm.Failure);
        Assert.Equal(first, second);
        Assert.Equal(first, single);
    }

    [Fact]
    public void A_failed_onnx_runtime_load_falls_back_to_the_managed_kernel_without_poisoning_the_process()
    {
        const int m = 260, k = 600, n = 80;
        var a = Matrices.Gaussian(m, k, seed: 9);
        var b = Matrices.Gaussian(k, n, seed: 10);
        var fallback = new float[m * n];
        var managed = new float[m * n];

        using (OrtGemm.Force(OrtGemm.Backend.SimulatedLoadFailure))
        {
            Assert.False(OrtGemm.TryGemm(a, m, k, b, n, fallback, false, false, threads: 2));
            MatrixOps.GemmCore(a, m, k, b, n, fallback, false, true, -1);
        }

        MatrixOps.ManagedGemm(a, m, k, b, n, managed, false, true, -1);
        Assert.Equal(managed, fallback);
        Assert.Null(OrtGemm.Failure);
        Assert.True(OrtGemm.Available);
    }

    [Fact]
    public void Truncated_svd_on_either_backend_agrees_and_each_is_deterministic()
    {
        const int rows = 600, cols = 400, rank = 20;
        var matrix = Matrices.Gaussian(rows, cols, seed: 11);
        var options = new SvdOptions { Seed = 3 };

        var ort1 = TruncatedSvd.Compute(matrix, rows, cols, rank, options);
        var ort2 = TruncatedSvd.Compute(matrix, rows, cols, rank, options);
        SvdResult managed1, managed2;
        using (OrtGemm.Force(OrtGemm.Backend.SimulatedLoadFailure))
        {
            managed1 = TruncatedSvd.Compute(matrix, rows, cols, rank, options);
            managed2 = TruncatedSvd.Compute(matrix, rows, cols, rank, options);
        }

        Assert.Equal(ort1.U, ort2.U);
        Assert.Equal(ort1.Vt, ort2.Vt);
        Assert.Equal(managed1.U, managed2.U);
        Assert.Equal(managed1.Vt, managed2.Vt);
        for (var i = 0; i < rank; i++)
        {
            Assert.True(Math.Abs(ort1.S[i] - managed1.S[i]) <= 1e-4 * ort1.S[0], $"σ{i}: {ort1.S[i]} vs {managed1.S[i]}");
        }
    }
}
