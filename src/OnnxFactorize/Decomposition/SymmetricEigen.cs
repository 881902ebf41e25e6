using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OnnxFactorize.Decomposition;

/// <summary>Eigen-decomposition of a dense symmetric matrix in double: Householder tridiagonalization and implicit QL
/// (EISPACK tred2/tql2, as in JAMA). Eigenvectors are stored as rows so every inner loop runs over contiguous memory.</summary>
internal static class SymmetricEigen
{
    /// <summary>Decomposes the symmetric n×n matrix a (row-major, only read). Returns eigenvalues in descending order and
    /// the matching unit eigenvectors as rows of an n×n row-major array.</summary>
    public static (double[] Values, double[] Vectors) Decompose(ReadOnlySpan<double> a, int n, CancellationToken cancellationToken)
    {
        // w holds V transposed: V[r, c] lives at w[c*n + r], so the JAMA loops over a column of V walk a row of w.
        var w = a[..(n * n)].ToArray();
        var d = new double[n];
        var e = new double[n];
        if (n > 0)
        {
            Tred2(w, n, d, e, cancellationToken);
            Tql2(w, n, d, e, cancellationToken);
        }

        // Sort descending, permuting the eigenvector rows along.
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (x, y) => d[y].CompareTo(d[x]));
        var values = new double[n];
        var vectors = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            values[i] = d[order[i]];
            Array.Copy(w, order[i] * n, vectors, i * n, n);
        }

        return (values, vectors);
    }

    /// <summary>Eigenvalues alone of the symmetric n×n matrix a (row-major, only read), in descending order: the same
    /// reduction without accumulating the transformations or rotating eigenvectors (about 4n³/3 flops instead of 9n³).</summary>
    public static double[] Values(ReadOnlySpan<double> a, int n, CancellationToken cancellationToken)
    {
        var w = a[..(n * n)].ToArray();
        var d = new double[n];
        var e = new double[n];
        if (n > 0)
        {
            Tred2(w, n, d, e, cancellationToken, vectors: false);
            Tql2(w, n, d, e, cancellationToken, vectors: false);
        }

        Array.Sort(d, (x, y) => y.CompareTo(x));
        return d;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tred2(double[] w, int n, double[] d, double[] e, CancellationToken cancellationToken, bool vectors = true)
    {
        for (var j = 0; j < n; j++)
        {
            d[j] = w[j * n + n - 1];
        }

        for (var i = n - 1; i > 0; i--)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var scale = 0.0;
            var h = 0.0;
            for (var k = 0; k < i; k++)
            {
                scale += Math.Abs(d[k]);
            }

            if (scale == 0.0)
            {
                e[i] = d[i - 1];
                for (var j = 0; j < i; j++)
                {
                    d[j] = w[j * n + i - 1];
                    w[j * n + i] = 0.0;
                    w[i * n + j] = 0.0;
                }
            }
            else
            {
                for (var k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }

                var f = d[i - 1];
                var g = Math.Sqrt(h);
                if (f > 0)
                {
                    g = -g;
                }

                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                Array.Clear(e, 0, i);

                for (var j = 0; j < i; j++)
                {
                    f = d[j];
                    w[i * n + j] = f;
                    g = e[j] + w[j * n + j] * f;
                    var col = j * n;
                    if (i - 1 > j)
                    {
                        var row = w.AsSpan(col + j + 1, i - 1 - j);
                        g += MatrixOps.Dot(row, d.AsSpan(j + 1, i - 1 - j));
                        MatrixOps.Axpy(f, row, e.AsSpan(j + 1, i - 1 - j));
                    }

                    e[j] = g;
                }

                f = 0.0;
                for (var j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }

                var hh = f / (h + h);
                for (var j = 0; j < i; j++)
                {
                    e[j] -= hh * d[j];
                }

                for (var j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    var col = j * n;
                    var row = w.AsSpan(col + j, i - j);
                    MatrixOps.Axpy(-f, e.AsSpan(j, i - j), row);
                    MatrixOps.Axpy(-g, d.AsSpan(j, i - j), row);

                    d[j] = w[col + i - 1];
                    w[col + i] = 0.0;
                }
            }

            d[i] = h;
        }

        if (!vectors)
        {
            // The reduction leaves the tridiagonal's diagonal on the diagonal of w (the accumulation below saves it there).
            for (var j = 0; j < n; j++)
            {
                d[j] = w[j * n + j];
            }

            e[0] = 0.0;
            return;
        }

        // Accumulate the transformations.
        for (var i = 0; i < n - 1; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            w[i * n + n - 1] = w[i * n + i];
            w[i * n + i] = 1.0;
            var h = d[i + 1];
            var next = (i + 1) * n;
            if (h != 0.0)
            {
                for (var k = 0; k <= i; k++)
                {
                    d[k] = w[next + k] / h;
                }

                for (var j = 0; j <= i; j++)
                {
                    var g = MatrixOps.Dot(w.AsSpan(next, i + 1), w.AsSpan(j * n, i + 1));
                    MatrixOps.Axpy(-g, d.AsSpan(0, i + 1), w.AsSpan(j * n, i + 1));
                }
            }

            for (var k = 0; k <= i; k++)
            {
                w[next + k] = 0.0;
            }
        }

        for (var j = 0; j < n; j++)
        {
            d[j] = w[j * n + n - 1];
            w[j * n + n - 1] = 0.0;
        }

        w[(n - 1) * n + n - 1] = 1.0;
        e[0] = 0.0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tql2(double[] w, int n, double[] d, double[] e, CancellationToken cancellationToken, bool vectors = true)
    {
        for (var i = 1; i < n; i++)
        {
            e[i - 1] = e[i];
        }

        e[n - 1] = 0.0;
        var f = 0.0;
        var tst1 = 0.0;
        var eps = Math.Pow(2.0, -52.0);
        for (var l = 0; l < n; l++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            var m = l;
            while (m < n)
            {
                if (Math.Abs(e[m]) <= eps * tst1)
                {
                    break;
                }

                m++;
            }

            if (m > l)
            {
                var iter = 0;
                do
                {
                    if (++iter > 60)
                    {
                        throw new InvalidOperationException("Symmetric eigen-decomposition did not converge.");
                    }

                    var g = d[l];
                    var p = (d[l + 1] - g) / (2.0 * e[l]);
                    var r = Hypot(p, 1.0);
                    if (p < 0)
                    {
                        r = -r;
                    }

                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    var dl1 = d[l + 1];
                    var h = g - d[l];
                    for (var i = l + 2; i < n; i++)
                    {
                        d[i] -= h;
                    }

                    f += h;
                    p = d[m];
                    var c = 1.0;
                    var c2 = c;
                    var c3 = c;
                    var el1 = e[l + 1];
                    var s = 0.0;
                    var s2 = 0.0;
                    for (var i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        if (vectors)
                        {
                            Rotate(w.AsSpan(i * n, n), w.AsSpan((i + 1) * n, n), c, s);
                        }
                    }

                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                }
                while (Math.Abs(e[l]) > eps * tst1);
            }

            d[l] += f;
            e[l] = 0.0;
        }
    }

    // (vi, vj) ← (c·vi − s·vj, s·vi + c·vj): the Givens update of columns i, i+1 of V in tql2.
    private static void Rotate(Span<double> vi, Span<double> vj, double c, double s)
    {
        var k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var cv = Vector256.Create(c);
            var sv = Vector256.Create(s);
            for (; k + 4 <= vi.Length; k += 4)
            {
                var x = Vector256.Create<double>(vi[k..]);
                var y = Vector256.Create<double>(vj[k..]);
                (cv * x - sv * y).CopyTo(vi[k..]);
                (sv * x + cv * y).CopyTo(vj[k..]);
            }
        }

        for (; k < vi.Length; k++)
        {
            var x = vi[k];
            var y = vj[k];
            vi[k] = c * x - s * y;
            vj[k] = s * x + c * y;
        }
    }

    private static double Hypot(double a, double b)
    {
        var x = Math.Abs(a);
        var y = Math.Abs(b);
        if (x > y)
        {
            var r = y / x;
            return x * Math.Sqrt(1 + r * r);
        }

        if (y != 0)
        {
            var r = x / y;
            return y * Math.Sqrt(1 + r * r);
        }

        return 0.0;
    }
}
