namespace OnnxFactorize.Decomposition;

/// <summary>Row-major float32 matrix factors of a (possibly truncated) SVD: A ≈ U diag(S) Vt.</summary>
internal sealed class SvdResult
{
    /// <summary>Creates a result; arrays are taken as they are (not copied).</summary>
    public SvdResult(int rows, int cols, float[] u, double[] s, float[] vt, double frobeniusNormSquared)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(vt);
        var rank = s.Length;
        if (u.Length != (long)rows * rank || vt.Length != (long)rank * cols)
        {
            throw new ArgumentException($"Factor sizes do not match {rows}×{cols} at rank {rank}: U has {u.Length}, Vt has {vt.Length} elements.");
        }

        Rows = rows;
        Cols = cols;
        U = u;
        S = s;
        Vt = vt;
        FrobeniusNormSquared = frobeniusNormSquared;
    }

    /// <summary>Number of rows m of the input.</summary>
    public int Rows { get; }

    /// <summary>Number of columns n of the input.</summary>
    public int Cols { get; }

    /// <summary>Number of computed singular triplets k.</summary>
    public int Rank => S.Length;

    /// <summary>Left singular vectors, Rows×k row-major (column i is the i-th vector).</summary>
    public float[] U { get; }

    /// <summary>The k singular values, descending.</summary>
    public double[] S { get; }

    /// <summary>Right singular vectors, k×Cols row-major (row i is the i-th vector).</summary>
    public float[] Vt { get; }

    /// <summary>‖A‖_F² of the input, exact (not limited to the computed triplets).</summary>
    public double FrobeniusNormSquared { get; }

    /// <summary>‖A‖_F² − Σ_{i&lt;k} σ_i², clamped at zero: the squared error of the best rank-k approximation.</summary>
    public double TailEnergy(int k)
    {
        CheckRank(k);
        var kept = 0.0;
        for (var i = 0; i < k; i++)
        {
            kept += S[i] * S[i];
        }

        return Math.Max(0.0, FrobeniusNormSquared - kept);
    }

    /// <summary>Relative Frobenius error sqrt(TailEnergy(k)/‖A‖_F²) of the rank-k truncation (Eckart–Young).</summary>
    public double RelativeError(int k) => FrobeniusNormSquared > 0 ? Math.Sqrt(TailEnergy(k) / FrobeniusNormSquared) : 0.0;

    /// <summary>Balanced factors for rank k ≤ Rank: left = U_k Σ_k^½ (Rows×k), right = Σ_k^½ V_kᵀ (k×Cols), row-major.</summary>
    public (float[] Left, float[] Right) BalancedFactors(int k)
    {
        CheckRank(k);
        var left = new float[Rows * k];
        var right = new float[k * Cols];
        var roots = new double[k];
        for (var j = 0; j < k; j++)
        {
            roots[j] = Math.Sqrt(Math.Max(S[j], 0.0));
        }

        var rank = Rank;
        for (var i = 0; i < Rows; i++)
        {
            for (var j = 0; j < k; j++)
            {
                left[i * k + j] = (float)(U[i * rank + j] * roots[j]);
            }
        }

        for (var j = 0; j < k; j++)
        {
            for (var c = 0; c < Cols; c++)
            {
                right[j * Cols + c] = (float)(Vt[j * Cols + c] * roots[j]);
            }
        }

        return (left, right);
    }

    private void CheckRank(int k)
    {
        if (k < 0 || k > Rank)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in [0, {Rank}], got {k}.");
        }
    }
}
