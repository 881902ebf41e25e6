namespace OnnxFactorize.Decomposition;

/// <summary>Truncation-aware data whitening (SVD-LLM, Wang et al. 2024): the rank-k Ŵ minimizing the output error
/// ‖(W − Ŵ)·X‖_F over the calibration inputs X, from the input Gram matrix G = X Xᵀ = S Sᵀ. Since
/// ‖(W − Ŵ)X‖_F² = tr((W − Ŵ) G (W − Ŵ)ᵀ) = ‖(W − Ŵ)S‖_F², the best rank-k Ŵ·S is the truncated SVD of W·S
/// (Eckart–Young), and Ŵ = U_k Σ_k V_kᵀ S⁻¹.</summary>
internal static class WhitenedSvd
{
    /// <summary>Top-<paramref name="rank"/> whitened SVD of the row-major <paramref name="rows"/>×<paramref name="cols"/>
    /// weight in the given <paramref name="layout"/>; the whitening's dimension must be the weight's input dimension.
    /// Compute as many triplets as the rank policy needs (<see cref="RankPolicy.RequiredSingularValues"/> on out×in).</summary>
    public static WhitenedSvdResult Compute(ReadOnlySpan<float> weight, int rows, int cols, WeightLayout layout, InputWhitening whitening, int rank,
        SvdOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(whitening);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        if (weight.Length != (long)rows * cols)
        {
            throw new ArgumentException($"weight holds {weight.Length} values but {rows}×{cols} needs {(long)rows * cols}.", nameof(weight));
        }

        var (outputs, inputs) = layout == WeightLayout.OutByIn ? (rows, cols) : (cols, rows);
        if (whitening.Dimension != inputs)
        {
            throw new OnnxFactorizeException($"the input Gram matrix is {whitening.Dimension}×{whitening.Dimension} but the {rows}×{cols} weight ({layout}) reads {inputs} inputs; collect statistics of the value that feeds this weight.");
        }

        options ??= new SvdOptions();
        var w = OutByIn(weight, rows, cols, layout);
        var whitened = new float[outputs * inputs];
        MatrixOps.GemmCore(w, outputs, inputs, whitening.SArray, inputs, whitened, transA: false, transB: false, options.MaxDegreeOfParallelism);
        var svd = TruncatedSvd.Compute(whitened, outputs, inputs, rank, options, cancellationToken);
        return new WhitenedSvdResult(layout, outputs, inputs, svd, whitening, options.MaxDegreeOfParallelism);
    }

    /// <summary>The weight as an out×in row-major matrix (a copy).</summary>
    internal static float[] OutByIn(ReadOnlySpan<float> weight, int rows, int cols, WeightLayout layout)
    {
        if (layout == WeightLayout.OutByIn)
        {
            return weight[..(rows * cols)].ToArray();
        }

        var t = new float[rows * cols];
        MatrixOps.Transpose(weight, rows, cols, t);
        return t;
    }
}
