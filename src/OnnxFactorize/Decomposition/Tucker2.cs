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
    public float[] Reconstruct()
    {
        var result = new float[Out * In * Spatial];
        var partial = new double[In * Spatial];
        for (var a = 0; a < RankOut; a++)
        {
            // partial[i,s] = Σ_b U_in[i,b] G[a,b,s]
            Array.Clear(partial);
            for (var i = 0; i < In; i++)
            {
                for (var b = 0; b < RankIn; b++)
                {
                    var u = UIn[i * RankIn + b];
                    var g = (a * RankIn + b) * Spatial;
                    for (var s = 0; s < Spatial; s++)
                    {
                        partial[i * Spatial + s] += u * Core[g + s];
                    }
                }
            }

            for (var o = 0; o < Out; o++)
            {
                var u = UOut[o * RankOut + a];
                var row = o * In * Spatial;
                for (var j = 0; j < partial.Length; j++)
                {
                    result[row + j] += (float)(u * partial[j]);
                }
            }
        }

        return result;
    }
}

/// <summary>Tucker-2 decomposition of convolution kernels (Kim et al. 2015, arXiv 1511.06530): HOSVD initialization from the
/// mode-0/mode-1 unfoldings, then HOOI (higher-order orthogonal iteration, De Lathauwer et al. 2000) until the fit stops
/// improving. Works in double on row-major float tensors [out, in, spatial]; knows nothing of ONNX.</summary>
public static class Tucker2
{
    /// <summary>Singular values (descending, all of them) of the mode-0 (out × in·spatial) and mode-1 (in × out·spatial) unfoldings.</summary>
    public static (double[] Out, double[] In) ModeSpectra(ReadOnlySpan<float> w, int outDim, int inDim, int spatial, CancellationToken cancellationToken = default)
    {
        var x = ToDouble(w, outDim, inDim, spatial);
        var (sOut, _) = LeadingVectors(x, outDim, inDim * spatial, 0, cancellationToken);
        var (sIn, _) = LeadingVectors(UnfoldMode1(x, outDim, inDim, spatial), inDim, outDim * spatial, 0, cancellationToken);
        return (sOut, sIn);
    }

    /// <summary>Decomposes W[out, in, spatial] at ranks (rankOut, rankIn): HOSVD, then up to <paramref name="maxIterations"/>
    /// HOOI sweeps, stopping when the relative error improves by less than <paramref name="tolerance"/>.</summary>
    public static Tucker2Result Decompose(ReadOnlySpan<float> w, int outDim, int inDim, int spatial, int rankOut, int rankIn,
        int maxIterations = 25, double tolerance = 1e-7, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(spatial, 1);
        if (w.Length != (long)outDim * inDim * spatial)
        {
            throw new ArgumentException($"tensor holds {w.Length} values but {outDim}×{inDim}×{spatial} needs {(long)outDim * inDim * spatial}.", nameof(w));
        }

        if (rankOut < 1 || rankOut > outDim)
        {
            throw new ArgumentOutOfRangeException(nameof(rankOut), rankOut, $"rankOut must be in [1, {outDim}], got {rankOut}.");
        }

        if (rankIn < 1 || rankIn > inDim)
        {
            throw new ArgumentOutOfRangeException(nameof(rankIn), rankIn, $"rankIn must be in [1, {inDim}], got {rankIn}.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(maxIterations);
        var x = ToDouble(w, outDim, inDim, spatial);
        var norm2 = 0.0;
        foreach (var v in x)
        {
            norm2 += v * v;
        }

        // HOSVD: leading left singular vectors of each unfolding.
        var (_, uOut) = LeadingVectors(x, outDim, inDim * spatial, rankOut, cancellationToken);
        var (_, uIn) = LeadingVectors(UnfoldMode1(x, outDim, inDim, spatial), inDim, outDim * spatial, rankIn, cancellationToken);
        var core = CoreOf(x, outDim, inDim, spatial, uOut, rankOut, uIn, rankIn);
        var hosvdError = RelativeError(norm2, core);
        var error = hosvdError;
        var iterations = 0;
        while (iterations < maxIterations && error > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // HOOI: each factor is the leading subspace of W projected on the other factor.
            var y = ProjectIn(x, outDim, inDim, spatial, uIn, rankIn);
            var (_, nextOut) = LeadingVectors(y, outDim, rankIn * spatial, rankOut, cancellationToken);
            var z = ProjectOut(x, outDim, inDim, spatial, nextOut, rankOut);
            var (_, nextIn) = LeadingVectors(UnfoldMode1(z, rankOut, inDim, spatial), inDim, rankOut * spatial, rankIn, cancellationToken);
            var nextCore = CoreOf(x, outDim, inDim, spatial, nextOut, rankOut, nextIn, rankIn);
            var nextError = RelativeError(norm2, nextCore);
            iterations++;
            if (nextError > error)
            {
                break;
            }

            var improvement = error - nextError;
            (uOut, uIn, core, error) = (nextOut, nextIn, nextCore, nextError);
            if (improvement < tolerance)
            {
                break;
            }
        }

        return new Tucker2Result(outDim, inDim, spatial, rankOut, rankIn, ToFloat(uOut), ToFloat(uIn), ToFloat(core), norm2, hosvdError, error, iterations);
    }

    private static double[] ToDouble(ReadOnlySpan<float> w, int outDim, int inDim, int spatial)
    {
        var x = new double[outDim * inDim * spatial];
        for (var j = 0; j < x.Length; j++)
        {
            x[j] = w[j];
        }

        return x;
    }

    private static float[] ToFloat(double[] x)
    {
        var result = new float[x.Length];
        for (var j = 0; j < x.Length; j++)
        {
            result[j] = (float)x[j];
        }

        return result;
    }

    // ‖W − Ŵ‖² = ‖W‖² − ‖G‖² for orthonormal factors and G the projection of W.
    private static double RelativeError(double norm2, double[] core)
    {
        if (norm2 <= 0)
        {
            return 0;
        }

        var kept = 0.0;
        foreach (var g in core)
        {
            kept += g * g;
        }

        return Math.Sqrt(Math.Max(0, norm2 - kept) / norm2);
    }

    // Mode-1 unfolding of X[a, i, s]: rows i, columns (a, s).
    private static double[] UnfoldMode1(double[] x, int a, int inDim, int spatial)
    {
        var result = new double[x.Length];
        for (var p = 0; p < a; p++)
        {
            for (var i = 0; i < inDim; i++)
            {
                Array.Copy(x, (p * inDim + i) * spatial, result, (i * a + p) * spatial, spatial);
            }
        }

        return result;
    }

    // Y[o, b, s] = Σ_i X[o, i, s] U_in[i, b]
    private static double[] ProjectIn(double[] x, int outDim, int inDim, int spatial, double[] uIn, int rankIn)
    {
        var y = new double[outDim * rankIn * spatial];
        for (var o = 0; o < outDim; o++)
        {
            for (var i = 0; i < inDim; i++)
            {
                var src = (o * inDim + i) * spatial;
                for (var b = 0; b < rankIn; b++)
                {
                    var u = uIn[i * rankIn + b];
                    var dst = (o * rankIn + b) * spatial;
                    for (var s = 0; s < spatial; s++)
                    {
                        y[dst + s] += u * x[src + s];
                    }
                }
            }
        }

        return y;
    }

    // Z[a, i, s] = Σ_o U_out[o, a] X[o, i, s]
    private static double[] ProjectOut(double[] x, int outDim, int inDim, int spatial, double[] uOut, int rankOut)
    {
        var row = inDim * spatial;
        var z = new double[rankOut * row];
        for (var o = 0; o < outDim; o++)
        {
            for (var a = 0; a < rankOut; a++)
            {
                var u = uOut[o * rankOut + a];
                if (u == 0)
                {
                    continue;
                }

                for (var j = 0; j < row; j++)
                {
                    z[a * row + j] += u * x[o * row + j];
                }
            }
        }

        return z;
    }

    private static double[] CoreOf(double[] x, int outDim, int inDim, int spatial, double[] uOut, int rankOut, double[] uIn, int rankIn) =>
        ProjectIn(ProjectOut(x, outDim, inDim, spatial, uOut, rankOut), rankOut, inDim, spatial, uIn, rankIn);

    // All singular values of the rows×cols matrix X and its k leading left singular vectors (rows×k, row-major), from
    // the eigen-decomposition of the rows×rows Gram matrix in double.
    private static (double[] Singular, double[] Vectors) LeadingVectors(double[] x, int rows, int cols, int k, CancellationToken cancellationToken)
    {
        var gram = new double[rows * rows];
        for (var a = 0; a < rows; a++)
        {
            var ra = x.AsSpan(a * cols, cols);
            for (var b = 0; b <= a; b++)
            {
                var rb = x.AsSpan(b * cols, cols);
                var sum = 0.0;
                for (var j = 0; j < cols; j++)
                {
                    sum += ra[j] * rb[j];
                }

                gram[a * rows + b] = sum;
                gram[b * rows + a] = sum;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        var (values, vectors) = SymmetricEigen.Decompose(gram, rows, cancellationToken);
        var singular = new double[rows];
        for (var j = 0; j < rows; j++)
        {
            singular[j] = Math.Sqrt(Math.Max(values[j], 0));
        }

        var u = new double[rows * k];
        for (var j = 0; j < k; j++)
        {
            for (var r = 0; r < rows; r++)
            {
                u[r * k + j] = vectors[j * rows + r];
            }
        }

        return (singular, u);
    }
}
