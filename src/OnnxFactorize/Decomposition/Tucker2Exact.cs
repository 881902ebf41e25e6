namespace OnnxFactorize.Decomposition;

/// <summary>The original Tucker-2 path, kept as the exact reference of <see cref="Tucker2"/>: HOSVD and HOOI with a full
/// double-precision eigen-decomposition of every mode Gram matrix (scalar loops, O(n³) per sweep). Tests compare the
/// fast path against it on small tensors.</summary>
internal static class Tucker2Exact
{
    /// <summary>Decomposes W[out, in, spatial] at ranks (rankOut, rankIn): HOSVD, then up to <paramref name="maxIterations"/>
    /// HOOI sweeps, stopping when the relative error improves by less than <paramref name="tolerance"/>.</summary>
    public static Tucker2Result Decompose(ReadOnlySpan<float> w, int outDim, int inDim, int spatial, int rankOut, int rankIn,
        int maxIterations = 25, double tolerance = 1e-7, CancellationToken cancellationToken = default)
    {
        Tucker2.Validate(w.Length, outDim, inDim, spatial, rankOut, rankIn);
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
