using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Benchmarks;

/// <summary>Seeded matrices for benchmarks.</summary>
public static class TestMatrices
{
    public static float[] Uniform(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new float[count];
        for (var i = 0; i < count; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        return x;
    }

    /// <summary>G₁·diag((1+i)^-½)·G₂ with Gaussian factors: a slowly decaying spectrum like trained weights.</summary>
    public static float[] DecayingSpectrum(int rows, int cols, int seed)
    {
        var inner = Math.Min(rows, cols);
        var left = Uniform(rows * inner, seed);
        var right = Uniform(inner * cols, seed + 1);
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < inner; j++)
            {
                left[i * inner + j] *= (float)Math.Pow(1 + j, -0.5);
            }
        }

        var a = new float[rows * cols];
        MatrixOps.Gemm(left, rows, inner, right, cols, a);
        return a;
    }
}
