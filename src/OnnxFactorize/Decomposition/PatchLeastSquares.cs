namespace OnnxFactorize.Decomposition;

/// <summary>Output-space numerics of a factorized conv on its im2col patch statistics: the patch Gram C (n×n, n = C_in·Πk,
/// centered or not) gives ‖M·X‖_F² = tr(M C Mᵀ) for any matrix M acting on the patches, so the output error of a kernel
/// approximation and the least-squares last factor of a chain are computed without the data. A chain whose first stage is
/// linear in the patch (z = K·x: a vertical conv, a 1×1 projection, a depthwise conv, all without bias) and whose last stage
/// is a matrix M on z computes Ŵ = M·K; given K, the M minimizing ‖(W − M K)X‖_F solves (K C Kᵀ) Mᵀ = K C Wᵀ.</summary>
internal static class PatchLeastSquares
{
    /// <summary>tr(M C Mᵀ) for the rows×n row-major <paramref name="m"/> and the n×n <paramref name="gram"/>: the squared
    /// output Frobenius norm of M on the data the Gram was accumulated from.</summary>
    public static double OutputEnergy(ReadOnlySpan<float> m, int rows, int n, ReadOnlySpan<double> gram)
    {
        CheckGram(gram, n);
        var row = new double[n];
        var total = 0.0;
        for (var r = 0; r < rows; r++)
        {
            var mr = m.Slice(r * n, n);
            Array.Clear(row);
            for (var j = 0; j < n; j++)
            {
                if (mr[j] != 0)
                {
                    MatrixOps.Axpy(mr[j], gram.Slice(j * n, n), row);
                }
            }

            for (var j = 0; j < n; j++)
            {
                total += row[j] * mr[j];
            }
        }

        return Math.Max(total, 0);
    }

    /// <summary>Relative output error sqrt(tr(D C Dᵀ) / tr(W C Wᵀ)) with D = W − Ŵ (both rows×n row-major).</summary>
    public static double RelativeOutputError(ReadOnlySpan<float> weight, ReadOnlySpan<float> approximation, int rows, int n, ReadOnlySpan<double> gram)
    {
        var d = new float[rows * n];
        for (var i = 0; i < d.Length; i++)
        {
            d[i] = weight[i] - approximation[i];
        }

        var norm = OutputEnergy(weight, rows, n, gram);
        return norm > 0 ? Math.Sqrt(OutputEnergy(d, rows, n, gram) / norm) : 0;
    }

    /// <summary>The output covariance W C Wᵀ (rows×rows): its eigenvectors are the principal directions of the responses
    /// (Zhang et al. 2016), its eigenvalues the output-space spectrum of W.</summary>
    public static double[] OutputCovariance(ReadOnlySpan<float> weight, int rows, int n, ReadOnlySpan<double> gram)
    {
        var wc = Times(weight, rows, n, gram);
        var result = new double[rows * rows];
        for (var a = 0; a < rows; a++)
        {
            for (var b = 0; b <= a; b++)
            {
                var s = 0.0;
                var wb = weight.Slice(b * n, n);
                for (var j = 0; j < n; j++)
                {
                    s += wc[a * n + j] * wb[j];
                }

                result[a * rows + b] = s;
                result[b * rows + a] = s;
            }
        }

        return result;
    }

    /// <summary>The last factor M (outputs×m, row-major) minimizing ‖(W − M·K)X‖_F for the fixed first stage K (m×n) and the
    /// weight W (outputs×n), from the patch Gram C: (K C Kᵀ + δI) Mᵀ = K C Wᵀ with the default relative ridge of
    /// <see cref="LeastSquaresFactor"/>. <paramref name="zz"/> receives K C Kᵀ (the Gram of the first stage's outputs).</summary>
    public static float[] FitLast(ReadOnlySpan<float> weight, int outputs, int n, ReadOnlySpan<float> first, int m, ReadOnlySpan<double> gram, out double[] zz)
    {
        CheckGram(gram, n);
        if (weight.Length != (long)outputs * n || first.Length != (long)m * n)
        {
            throw new ArgumentException($"weight must hold {outputs}×{n} and the first stage {m}×{n} values, got {weight.Length} and {first.Length}.");
        }

        var kc = Times(first, m, n, gram);
        zz = new double[m * m];
        for (var a = 0; a < m; a++)
        {
            for (var b = 0; b <= a; b++)
            {
                var s = 0.0;
                var kb = first.Slice(b * n, n);
                for (var j = 0; j < n; j++)
                {
                    if (kb[j] != 0)
                    {
                        s += kc[a * n + j] * kb[j];
                    }
                }

                zz[a * m + b] = s;
                zz[b * m + a] = s;
            }
        }

        // Z Xᵀ = K C (m×n); Solve forms Z Yᵀ = K C Wᵀ from it. A first stage with more outputs than the data has directions
        // (few calibration patches, taps that only read padding) leaves Z Zᵀ singular: the ridge grows until it is not,
        // which picks the small-norm solution among the equally good ones.
        for (var ridge = LeastSquaresFactor.DefaultRelativeRidge; ; ridge *= 100)
        {
            try
            {
                return LeastSquaresFactor.SolveForWeight(zz, kc, m, weight, outputs, n, WeightLayout.OutByIn, ridge);
            }
            catch (OnnxFactorizeException) when (ridge < 1e-2)
            {
            }
        }
    }

    /// <summary>The average of the <paramref name="blocks"/> diagonal sub-blocks of a Gram over an index (group, block, inner)
    /// split: entry (g, i), (g', i') of the result is (1/blocks)·Σ_b C[(g, b, i), (g', b, i')] for an index laid out as
    /// ((g·<paramref name="blocks"/> + b)·<paramref name="inner"/> + i) when <paramref name="blockOuter"/> is false, or
    /// ((g·<paramref name="inner"/> + i)·<paramref name="blocks"/> + b) when it is true (the block index fastest).
    /// For conv patches ordered (c, h, w): blocks = kw with the block fastest gives the Gram of vertical patches (c, h);
    /// blocks = kh·kw gives the channel Gram.</summary>
    public static double[] AverageOverBlocks(ReadOnlySpan<double> gram, int groups, int blocks, int inner, bool blockOuter)
    {
        var n = groups * blocks * inner;
        CheckGram(gram, n);
        var d = groups * inner;
        var result = new double[d * d];
        int Index(int g, int b, int i) => blockOuter ? (g * inner + i) * blocks + b : (g * blocks + b) * inner + i;
        for (var g = 0; g < groups; g++)
        {
            for (var i = 0; i < inner; i++)
            {
                for (var g2 = 0; g2 < groups; g2++)
                {
                    for (var i2 = 0; i2 < inner; i2++)
                    {
                        var s = 0.0;
                        for (var b = 0; b < blocks; b++)
                        {
                            s += gram[Index(g, b, i) * n + Index(g2, b, i2)];
                        }

                        result[(g * inner + i) * d + g2 * inner + i2] = s / blocks;
                    }
                }
            }
        }

        return result;
    }

    /// <summary>The principal sub-matrix of the n×n Gram on the contiguous indices [start, start + length).</summary>
    public static double[] Block(ReadOnlySpan<double> gram, int n, int start, int length)
    {
        CheckGram(gram, n);
        var result = new double[length * length];
        for (var i = 0; i < length; i++)
        {
            gram.Slice((start + i) * n + start, length).CopyTo(result.AsSpan(i * length, length));
        }

        return result;
    }

    // M C for a row-major rows×n M (zeros skipped: first stages are sparse) and the n×n C.
    private static double[] Times(ReadOnlySpan<float> m, int rows, int n, ReadOnlySpan<double> gram)
    {
        var result = new double[rows * n];
        for (var r = 0; r < rows; r++)
        {
            var target = result.AsSpan(r * n, n);
            for (var j = 0; j < n; j++)
            {
                var v = m[r * n + j];
                if (v != 0)
                {
                    MatrixOps.Axpy(v, gram.Slice(j * n, n), target);
                }
            }
        }

        return result;
    }

    private static void CheckGram(ReadOnlySpan<double> gram, int n)
    {
        if (gram.Length != (long)n * n)
        {
            throw new ArgumentException($"the patch Gram holds {gram.Length} values but {n}×{n} needs {(long)n * n}.", nameof(gram));
        }
    }
}
