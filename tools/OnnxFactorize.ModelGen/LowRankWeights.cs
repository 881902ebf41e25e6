namespace OnnxFactorize.ModelGen;

/// <summary>Weights with a decaying singular spectrum, W = Σ_i σ_i u_i v_iᵀ + noise with σ_i = scale·exp(−i/τ), so that
/// low-rank factorization has something to find (Eckart–Young: the truncation error is the tail energy).</summary>
public static class LowRankWeights
{
    /// <summary>A rows×cols row-major matrix; <paramref name="tau"/> sets how fast the spectrum decays,
    /// <paramref name="noise"/> is the standard deviation of the added Gaussian noise relative to σ_0.</summary>
    public static float[] Matrix(SeededRandom random, int rows, int cols, double tau, double noise = 1e-3, double scale = 1.0)
    {
        var rank = Math.Min(rows, cols);
        var u = OrthonormalColumns(random, rows, rank);
        var v = OrthonormalColumns(random, cols, rank);
        var result = new float[rows * cols];
        var w = new double[rows * cols];
        for (var i = 0; i < rank; i++)
        {
            var sigma = scale * Math.Exp(-i / tau);
            for (var r = 0; r < rows; r++)
            {
                var ur = sigma * u[r * rank + i];
                for (var c = 0; c < cols; c++)
                {
                    w[r * cols + c] += ur * v[c * rank + i];
                }
            }
        }

        for (var k = 0; k < w.Length; k++)
        {
            result[k] = (float)(w[k] + noise * scale * random.NextNormal());
        }

        return result;
    }

    /// <summary>A small Gaussian vector (biases).</summary>
    public static float[] Vector(SeededRandom random, int length, double std = 0.05)
    {
        var result = new float[length];
        for (var k = 0; k < length; k++)
        {
            result[k] = (float)(std * random.NextNormal());
        }

        return result;
    }

    /// <summary>Gaussian columns orthonormalized by modified Gram–Schmidt; returns an n×k row-major matrix.</summary>
    private static double[] OrthonormalColumns(SeededRandom random, int n, int k)
    {
        var q = new double[n * k];
        for (var idx = 0; idx < q.Length; idx++)
        {
            q[idx] = random.NextNormal();
        }

        for (var j = 0; j < k; j++)
        {
            for (var p = 0; p < j; p++)
            {
                var dot = 0.0;
                for (var r = 0; r < n; r++)
                {
                    dot += q[r * k + p] * q[r * k + j];
                }

                for (var r = 0; r < n; r++)
                {
                    q[r * k + j] -= dot * q[r * k + p];
                }
            }

            var norm = 0.0;
            for (var r = 0; r < n; r++)
            {
                norm += q[r * k + j] * q[r * k + j];
            }

            norm = Math.Sqrt(norm);
            for (var r = 0; r < n; r++)
            {
                q[r * k + j] /= norm;
            }
        }

        return q;
    }
}
