using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

/// <summary>The last factor and bias of a two-factor chain refitted by least squares (asymmetric reconstruction, Zhang et al.
/// TPAMI 2016; the sequential update of SVD-LLM): with the first factor F (k×in) fixed and z = [F x̃; 1] built from the
/// inputs x̃ of the model compressed so far, [B c] minimizes Σ_t ‖B F x̃_t + c − W x_t‖² against the original inputs x_t,
/// from the paired statistics only (<see cref="ReconstructionTargets"/>, <see cref="LeastSquaresFactor.Solve"/>).</summary>
internal static class SequentialRefit
{
    /// <summary>The refitted last factor (in <paramref name="layout"/>: out×k for out×in weights, k×out for in×out), the bias
    /// shift c (added to the node's bias) and the relative output error ‖B F X̃ + c − W X‖/‖W(X − μ)‖ on the calibration rows.</summary>
    public static (float[] Last, double[] Shift, double OutputRelError) Fit(float[] matrix, int rows, int cols, WeightLayout layout, float[] first,
        GramAccumulator compressed, ReconstructionTargets targets)
    {
        var (outputs, inputs) = layout == WeightLayout.OutByIn ? (rows, cols) : (cols, rows);
        var k = first.Length / inputs;
        var f = FirstOutByIn(first, k, inputs, layout);
        var w = Array.ConvertAll(WhitenedSvd.OutByIn(matrix, rows, cols, layout), v => (double)v);
        var g = compressed.Gram();
        var s = compressed.Sum();
        var p = k + 1;

        // F·G̃ (k×in) and F·C (k×in), C = Σ x̃ xᵀ.
        var fg = Multiply(f, k, inputs, g, inputs);
        var fc = Multiply(f, k, inputs, targets.Cross, inputs);
        var zz = new double[p * p];
        var zx = new double[p * inputs];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++)
            {
                zz[i * p + j] = MatrixOps.Dot(fg.AsSpan(i * inputs, inputs), f.AsSpan(j * inputs, inputs));
            }

            var fs = MatrixOps.Dot(f.AsSpan(i * inputs, inputs), s);
            zz[i * p + k] = fs;
            zz[k * p + i] = fs;
            Array.Copy(fc, i * inputs, zx, i * inputs, inputs);
        }

        zz[k * p + k] = compressed.Count;
        targets.Original.Sum().CopyTo(zx, k * inputs);

        // Z Yᵀ = Z Xᵀ Wᵀ (p×out).
        var zy = new double[p * outputs];
        for (var i = 0; i < p; i++)
        {
            for (var o = 0; o < outputs; o++)
            {
                zy[i * outputs + o] = MatrixOps.Dot(zx.AsSpan(i * inputs, inputs), w.AsSpan(o * inputs, inputs));
            }
        }

        var augmented = LeastSquaresFactor.Solve(zz, zy, p, outputs, layout);
        var last = new float[outputs * k];
        var shift = new double[outputs];
        for (var o = 0; o < outputs; o++)
        {
            for (var i = 0; i < p; i++)
            {
                var v = layout == WeightLayout.InByOut ? augmented[i * outputs + o] : augmented[o * p + i];
                if (i == k)
                {
                    shift[o] = v;
                }
                else if (layout == WeightLayout.InByOut)
                {
                    last[i * outputs + o] = v;
                }
                else
                {
                    last[o * k + i] = v;
                }
            }
        }

        var residual = LeastSquaresFactor.ResidualEnergy(augmented, layout, zz, zy, p, outputs, TargetEnergy(w, outputs, inputs, targets.Original.Gram()));
        var centered = TargetEnergy(w, outputs, inputs, targets.Original.CenteredGram());
        return (last, shift, centered > 0 ? Math.Sqrt(residual / centered) : 0);
    }

    // The first factor as k×in doubles: Right (k×in) for out×in weights, Leftᵀ for in×out (Left is in×k).
    private static double[] FirstOutByIn(float[] first, int k, int inputs, WeightLayout layout)
    {
        var f = new double[k * inputs];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < inputs; j++)
            {
                f[i * inputs + j] = layout == WeightLayout.OutByIn ? first[i * inputs + j] : first[j * k + i];
            }
        }

        return f;
    }

    // a (m×n) · b (n×q), row-major doubles.
    private static double[] Multiply(double[] a, int m, int n, double[] b, int q)
    {
        var c = new double[m * q];
        Parallel.For(0, m, i =>
        {
            var row = c.AsSpan(i * q, q);
            for (var j = 0; j < n; j++)
            {
                var v = a[i * n + j];
                if (v == 0)
                {
                    continue;
                }

                var bj = b.AsSpan(j * q, q);
                for (var t = 0; t < q; t++)
                {
                    row[t] += v * bj[t];
                }
            }
        });
        return c;
    }

    // Σ_t ‖W x_t‖² = tr(W G Wᵀ) for the Gram G (in×in) and W (out×in).
    private static double TargetEnergy(double[] w, int outputs, int inputs, double[] gram)
    {
        var total = 0.0;
        var lockObject = new object();
        Parallel.For(0, outputs, () => 0.0, (o, _, local) =>
        {
            var row = w.AsSpan(o * inputs, inputs);
            var sum = 0.0;
            for (var i = 0; i < inputs; i++)
            {
                sum += row[i] * MatrixOps.Dot(gram.AsSpan(i * inputs, inputs), row);
            }

            return local + sum;
        }, local =>
        {
            lock (lockObject)
            {
                total += local;
            }
        });
        return total;
    }
}
