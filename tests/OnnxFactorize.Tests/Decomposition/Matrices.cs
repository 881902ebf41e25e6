namespace OnnxFactorize.Tests.Decomposition;

/// <summary>Seeded test matrices and naive reference computations.</summary>
internal static class Matrices
{
    public static float[] Gaussian(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * cols];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)(Math.Sqrt(-2.0 * Math.Log(1.0 - rng.NextDouble())) * Math.Cos(2.0 * Math.PI * rng.NextDouble()));
        }

        return x;
    }

    /// <summary>Product of rows×rank and rank×cols Gaussian matrices: rank-deficient when rank &lt; min(rows, cols).</summary>
    public static float[] LowRank(int rows, int cols, int rank, int seed) =>
        NaiveProduct(Gaussian(rows, rank, seed), rows, rank, Gaussian(rank, cols, seed + 1), cols);

    /// <summary>Gaussian factors with a (1+i)^-decay column scale in between: a weight-like decaying spectrum.</summary>
    public static float[] Decaying(int rows, int cols, double decay, int seed)
    {
        var inner = Math.Min(rows, cols);
        var left = Gaussian(rows, inner, seed);
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < inner; j++)
            {
                left[i * inner + j] *= (float)Math.Pow(1 + j, -decay);
            }
        }

        return NaiveProduct(left, rows, inner, Gaussian(inner, cols, seed + 1), cols);
    }

    public static float[] NaiveProduct(float[] a, int m, int k, float[] b, int n, bool transA = false, bool transB = false)
    {
        var c = new float[m * n];
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var sum = 0.0;
                for (var p = 0; p < k; p++)
                {
                    var x = transA ? a[p * m + i] : a[i * k + p];
                    var y = transB ? b[j * k + p] : b[p * n + j];
                    sum += (double)x * y;
                }

                c[i * n + j] = (float)sum;
            }
        }

        return c;
    }

    public static double FrobeniusSquared(float[] a) => a.Sum(x => (double)x * x);

    /// <summary>Largest |(XᵀX − I)_ij| over the columns of the row-major rows×cols matrix.</summary>
    public static double ColumnOrthonormalityError(float[] x, int rows, int cols)
    {
        var worst = 0.0;
        for (var i = 0; i < cols; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = 0.0;
                for (var r = 0; r < rows; r++)
                {
                    sum += (double)x[r * cols + i] * x[r * cols + j];
                }

                worst = Math.Max(worst, Math.Abs(sum - (i == j ? 1.0 : 0.0)));
            }
        }

        return worst;
    }

    /// <summary>Largest |(XXᵀ − I)_ij| over the rows of the row-major rows×cols matrix.</summary>
    public static double RowOrthonormalityError(float[] x, int rows, int cols)
    {
        var t = new float[x.Length];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                t[j * rows + i] = x[i * cols + j];
            }
        }

        return ColumnOrthonormalityError(t, cols, rows);
    }

    /// <summary>‖A − U diag(S) Vt‖_F in double.</summary>
    public static double Residual(float[] a, int rows, int cols, OnnxFactorize.Decomposition.SvdResult svd)
    {
        var k = svd.Rank;
        var sum = 0.0;
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                var approx = 0.0;
                for (var p = 0; p < k; p++)
                {
                    approx += (double)svd.U[i * k + p] * svd.S[p] * svd.Vt[p * cols + j];
                }

                var d = a[i * cols + j] - approx;
                sum += d * d;
            }
        }

        return Math.Sqrt(sum);
    }
}
