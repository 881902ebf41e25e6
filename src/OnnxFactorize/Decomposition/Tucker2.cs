namespace OnnxFactorize.Decomposition;

/// <summary>A Tucker-2 decomposition W ≈ G ×₀ U_out ×₁ U_in of a 3-way tensor W[out, in, spatial] with orthonormal factor
/// columns; the spatial mode is not compressed.</summary>
public sealed class Tucker2Result
{
    internal Tucker2Result(int outDim, int inDim, int spatial, int rankOut, int rankIn, float[] uOut, float[] uIn, float[] core,
        double normSquared, double hosvdRelativeError, double relativeError, int iterations)
    {
        Out = outDim;
        In = inDim;
        Spatial = spatial;
        RankOut = rankOut;
        RankIn = rankIn;
        UOut = uOut;
        UIn = uIn;
        Core = core;
        NormSquared = normSquared;
        HosvdRelativeError = hosvdRelativeError;
        RelativeError = relativeError;
        Iterations = iterations;
    }

    /// <summary>Size of mode 0 (output channels).</summary>
    public int Out { get; }

    /// <summary>Size of mode 1 (input channels).</summary>
    public int In { get; }

    /// <summary>Size of the uncompressed spatial mode (product of kernel dims).</summary>
    public int Spatial { get; }

    /// <summary>Rank of mode 0.</summary>
    public int RankOut { get; }

    /// <summary>Rank of mode 1.</summary>
    public int RankIn { get; }

    /// <summary>Mode-0 factor, Out×RankOut row-major, orthonormal columns.</summary>
    public float[] UOut { get; }

    /// <summary>Mode-1 factor, In×RankIn row-major, orthonormal columns.</summary>
    public float[] UIn { get; }

    /// <summary>Core tensor G[RankOut, RankIn, Spatial], row-major.</summary>
    public float[] Core { get; }

    /// <summary>‖W‖_F².</summary>
    public double NormSquared { get; }

    /// <summary>Relative error ‖W − Ŵ‖/‖W‖ of the HOSVD initialization (before HOOI).</summary>
    public double HosvdRelativeError { get; }

    /// <summary>Relative error ‖W − Ŵ‖/‖W‖ after HOOI refinement.</summary>
    public double RelativeError { get; }

    /// <summary>HOOI sweeps run (0 when the HOSVD was already exact or no refinement was asked for).</summary>
    public int Iterations { get; }

    /// <summary>Ŵ[o,i,s] = Σ_ab U_out[o,a] G[a,b,s] U_in[i,b], row-major [Out, In, Spatial].</summary>
    public float[] Reconstruct() => Tucker2Hooi.Reconstruct(Out, In, Spatial, UOut, RankOut, UIn, RankIn, Core, -1);
}

/// <summary>Tucker-2 decomposition of convolution kernels (Kim et al. 2015, arXiv 1511.06530): HOSVD initialization from the
/// mode-0/mode-1 unfoldings, then HOOI (higher-order orthogonal iteration, De Lathauwer et al. 2000) until the fit stops
/// improving. Runs in float32 on the GEMM backend with subspace iteration for the factors (<see cref="Tucker2Hooi"/>);
/// errors are accumulated in double. Deterministic for a seed, whatever the thread count; knows nothing of ONNX.</summary>
public static class Tucker2
{
    /// <summary>Singular values (descending, all of them) of the mode-0 (out × in·spatial) and mode-1 (in × out·spatial) unfoldings.</summary>
    public static (double[] Out, double[] In) ModeSpectra(ReadOnlySpan<float> w, int outDim, int inDim, int spatial, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(spatial, 1);
        var x0 = w[..(outDim * inDim * spatial)].ToArray();
        var sOut = Singular(MatrixOps.GramRowsDouble(x0, outDim, inDim * spatial, -1), outDim, cancellationToken);
        var x1 = Tucker2Hooi.Permute(x0, outDim, inDim, spatial);
        var sIn = Singular(MatrixOps.GramRowsDouble(x1, inDim, outDim * spatial, -1), inDim, cancellationToken);
        return (sOut, sIn);
    }

    /// <summary>Decomposes W[out, in, spatial] at ranks (rankOut, rankIn): HOSVD, then up to <paramref name="maxIterations"/>
    /// HOOI sweeps, stopping when the relative error improves by less than <paramref name="tolerance"/>.</summary>
    public static Tucker2Result Decompose(ReadOnlySpan<float> w, int outDim, int inDim, int spatial, int rankOut, int rankIn,
        int maxIterations = 25, double tolerance = 1e-7, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxIterations);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        return Decompose(w, outDim, inDim, spatial, rankOut, rankIn, new Tucker2Options { MaxIterations = maxIterations, Tolerance = tolerance }, cancellationToken);
    }

    /// <summary>Decomposes W[out, in, spatial] at ranks (rankOut, rankIn) with explicit settings (sweeps, tolerance, seed, threads).</summary>
    public static Tucker2Result Decompose(ReadOnlySpan<float> w, int outDim, int inDim, int spatial, int rankOut, int rankIn, Tucker2Options options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validate(w.Length, outDim, inDim, spatial, rankOut, rankIn);
        cancellationToken.ThrowIfCancellationRequested();
        return Tucker2Hooi.Decompose(w, outDim, inDim, spatial, rankOut, rankIn, options, cancellationToken);
    }

    internal static void Validate(int length, int outDim, int inDim, int spatial, int rankOut, int rankIn)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(spatial, 1);
        if (length != (long)outDim * inDim * spatial)
        {
            throw new ArgumentException($"tensor holds {length} values but {outDim}×{inDim}×{spatial} needs {(long)outDim * inDim * spatial}.", "w");
        }

        if (rankOut < 1 || rankOut > outDim)
        {
            throw new ArgumentOutOfRangeException(nameof(rankOut), rankOut, $"rankOut must be in [1, {outDim}], got {rankOut}.");
        }

        if (rankIn < 1 || rankIn > inDim)
        {
            throw new ArgumentOutOfRangeException(nameof(rankIn), rankIn, $"rankIn must be in [1, {inDim}], got {rankIn}.");
        }
    }

    private static double[] Singular(double[] gram, int n, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var values = SymmetricEigen.Values(gram, n, cancellationToken);
        for (var j = 0; j < n; j++)
        {
            values[j] = Math.Sqrt(Math.Max(values[j], 0));
        }

        return values;
    }
}
