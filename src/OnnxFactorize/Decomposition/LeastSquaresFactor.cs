namespace OnnxFactorize.Decomposition;

/// <summary>The last factor of a chain refitted to the data: given the first factor's outputs z_t = A·x_t (or any
/// predictors) and the targets y_t, the B minimizing Σ_t ‖B z_t − y_t‖² + δ‖B‖_F², from accumulated Z Zᵀ and Z Yᵀ only
/// (normal equations (Z Zᵀ + δI) Bᵀ = Z Yᵀ), so the data streams. With y_t = W x_t this is the "asymmetric" or sequential
/// reconstruction of a low-rank layer: B absorbs the error the (possibly lossy) upstream inputs introduce.</summary>
internal static class LeastSquaresFactor
{
    /// <summary>Default relative ridge: δ = 1e-8·tr(Z Zᵀ)/p, enough to keep the normal equations solvable when z has a
    /// direction the data never excites, negligible otherwise.</summary>
    public const double DefaultRelativeRidge = 1e-8;

    /// <summary>B for the targets y (Z Yᵀ is p×q): returned as out×p (y = B·z) for <see cref="WeightLayout.OutByIn"/>, as
    /// its transpose p×out (y = z·Bᵀ) for <see cref="WeightLayout.InByOut"/>.</summary>
    public static float[] Solve(ReadOnlySpan<double> zz, ReadOnlySpan<double> zy, int predictors, int targets, WeightLayout layout,
        double relativeRidge = DefaultRelativeRidge)
    {
        var p = predictors;
        var q = targets;
        ArgumentOutOfRangeException.ThrowIfLessThan(p, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(q, 1);
        if (zz.Length != (long)p * p || zy.Length != (long)p * q)
        {
            throw new ArgumentException($"Z Zᵀ must hold {p}×{p} and Z Yᵀ {p}×{q} values, got {zz.Length} and {zy.Length}.");
        }

        if (!(relativeRidge >= 0) || !double.IsFinite(relativeRidge))
        {
            throw new OnnxFactorizeException($"relative ridge must be a finite value ≥ 0, got {relativeRidge}.");
        }

        var a = zz.ToArray();
        var trace = 0.0;
        for (var i = 0; i < p; i++)
        {
            trace += a[i * p + i];
        }

        var ridge = relativeRidge * trace / p;
        for (var i = 0; i < p; i++)
        {
            a[i * p + i] += ridge;
        }

        if (!CholeskyInPlace(a, p))
        {
            throw new OnnxFactorizeException($"Z Zᵀ ({p}×{p}) is singular with relative ridge {relativeRidge}: the first factor's outputs do not span its rank; give a positive ridge or more calibration data.");
        }

        // Column c of Bᵀ (= row c of B) solves L Lᵀ b = (Z Yᵀ)[:, c].
        var bt = new double[p * q];
        var column = new double[p];
        for (var c = 0; c < q; c++)
        {
            for (var i = 0; i < p; i++)
            {
                column[i] = zy[i * q + c];
            }

            for (var i = 0; i < p; i++)
            {
                column[i] = (column[i] - MatrixOps.Dot(a.AsSpan(i * p, i), column.AsSpan(0, i))) / a[i * p + i];
            }

            for (var i = p - 1; i >= 0; i--)
            {
                var s = column[i];
                for (var j = i + 1; j < p; j++)
                {
                    s -= a[j * p + i] * column[j];
                }

                column[i] = s / a[i * p + i];
            }

            for (var i = 0; i < p; i++)
            {
                bt[i * q + c] = column[i];
            }
        }

        var result = new float[p * q];
        for (var i = 0; i < p; i++)
        {
            for (var c = 0; c < q; c++)
            {
                // OutByIn wants B (q×p); InByOut wants Bᵀ (p×q), which is what was solved for.
                result[layout == WeightLayout.InByOut ? i * q + c : c * p + i] = (float)bt[i * q + c];
            }
        }

        return result;
    }

    /// <summary>B for the targets y = W·x of a weight W (rows×cols in <paramref name="layout"/>), from Z Zᵀ (p×p) and
    /// Z Xᵀ (p×in): Z Yᵀ = Z Xᵀ Wᵀ. Returned in the same layout convention as <see cref="Solve"/>.</summary>
    public static float[] SolveForWeight(ReadOnlySpan<double> zz, ReadOnlySpan<double> zx, int predictors, ReadOnlySpan<float> weight, int rows, int cols,
        WeightLayout layout, double relativeRidge = DefaultRelativeRidge)
    {
        var (outputs, inputs) = layout == WeightLayout.OutByIn ? (rows, cols) : (cols, rows);
        if (zx.Length != (long)predictors * inputs || weight.Length != (long)rows * cols)
        {
            throw new ArgumentException($"Z Xᵀ must hold {predictors}×{inputs} values and the weight {rows}×{cols}, got {zx.Length} and {weight.Length}.");
        }

        var w = WhitenedSvd.OutByIn(weight, rows, cols, layout);
        var zy = new double[predictors * outputs];
        for (var i = 0; i < predictors; i++)
        {
            var zxRow = zx.Slice(i * inputs, inputs);
            for (var o = 0; o < outputs; o++)
            {
                var s = 0.0;
                var wRow = w.AsSpan(o * inputs, inputs);
                for (var j = 0; j < inputs; j++)
                {
                    s += zxRow[j] * wRow[j];
                }

                zy[i * outputs + o] = s;
            }
        }

        return Solve(zz, zy, predictors, outputs, layout, relativeRidge);
    }

    /// <summary>Σ_t ‖B z_t − y_t‖² from the statistics: tr(B ZZᵀ Bᵀ) − 2 tr(B Z Yᵀ) + Σ‖y_t‖², with B as returned by
    /// <see cref="Solve"/> in <paramref name="layout"/> and <paramref name="targetEnergy"/> = Σ_t ‖y_t‖².</summary>
    public static double ResidualEnergy(ReadOnlySpan<float> b, WeightLayout layout, ReadOnlySpan<double> zz, ReadOnlySpan<double> zy, int predictors, int targets, double targetEnergy)
    {
        var p = predictors;
        var q = targets;
        if (b.Length != (long)p * q || zz.Length != (long)p * p || zy.Length != (long)p * q)
        {
            throw new ArgumentException($"B must hold {p}×{q}, Z Zᵀ {p}×{p} and Z Yᵀ {p}×{q} values.");
        }

        // Bᵀ (p×q) in double, whatever the layout B came in.
        var bt = new double[p * q];
        for (var i = 0; i < p; i++)
        {
            for (var c = 0; c < q; c++)
            {
                bt[i * q + c] = layout == WeightLayout.InByOut ? b[i * q + c] : b[c * p + i];
            }
        }

        var quadratic = 0.0;
        var cross = 0.0;
        for (var c = 0; c < q; c++)
        {
            for (var i = 0; i < p; i++)
            {
                var bi = bt[i * q + c];
                cross += bi * zy[i * q + c];
                var s = 0.0;
                for (var j = 0; j < p; j++)
                {
                    s += zz[i * p + j] * bt[j * q + c];
                }

                quadratic += bi * s;
            }
        }

        return Math.Max(0.0, quadratic - 2 * cross + targetEnergy);
    }

    private static bool CholeskyInPlace(double[] a, int n)
    {
        for (var j = 0; j < n; j++)
        {
            var rowJ = a.AsSpan(j * n, j);
            var d = a[j * n + j] - MatrixOps.Dot(rowJ, rowJ);
            if (!(d > 0))
            {
                return false;
            }

            var root = Math.Sqrt(d);
            a[j * n + j] = root;
            for (var i = j + 1; i < n; i++)
            {
                a[i * n + j] = (a[i * n + j] - MatrixOps.Dot(a.AsSpan(i * n, j), rowJ)) / root;
            }
        }

        return true;
    }
}
