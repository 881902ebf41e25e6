using System.Numerics.Tensors;

namespace OnnxFactorize.Decomposition;

/// <summary>A whitening transform S of an input Gram matrix G = Σ_t x_t x_tᵀ (n×n), with S Sᵀ = G (exactly, for a positive
/// definite G) and its inverse, so that ‖M·X‖_F² = tr(M G Mᵀ) = ‖M·S‖_F² for any matrix M acting on the inputs. Computed
/// in double, stored as row-major float32 for the GEMM kernels. Reusable by every weight that reads the same input.</summary>
internal sealed class InputWhitening
{
    private readonly float[] _s;
    private readonly float[] _sInverse;

    private InputWhitening(int dimension, WhiteningMethod method, double ridge, int liftedDirections, float[] s, float[] sInverse)
    {
        Dimension = dimension;
        Method = method;
        Ridge = ridge;
        LiftedDirections = liftedDirections;
        _s = s;
        _sInverse = sInverse;
    }

    /// <summary>Input dimension n.</summary>
    public int Dimension { get; }

    /// <summary>Cholesky (exact) or the regularized eigen fallback used for a rank-deficient G.</summary>
    public WhiteningMethod Method { get; }

    /// <summary>Absolute ridge δ that was added to the diagonal (0 unless <see cref="WhiteningOptions.RelativeRidge"/> &gt; 0).</summary>
    public double Ridge { get; }

    /// <summary>Eigen-directions whose eigenvalue was lifted to the floor (0 on the Cholesky path).</summary>
    public int LiftedDirections { get; }

    /// <summary>True when S Sᵀ equals G itself (no ridge, no lifted eigenvalue): whitened errors are then exact output errors.</summary>
    public bool IsExact => Ridge == 0 && LiftedDirections == 0;

    /// <summary>S, n×n row-major.</summary>
    public ReadOnlySpan<float> S => _s;

    /// <summary>S⁻¹, n×n row-major.</summary>
    public ReadOnlySpan<float> SInverse => _sInverse;

    internal float[] SArray => _s;

    internal float[] SInverseArray => _sInverse;

    /// <summary>Whitening of a float32 Gram matrix (widened to double first).</summary>
    public static InputWhitening FromGram(ReadOnlySpan<float> gram, int dimension, WhiteningOptions? options = null, CancellationToken cancellationToken = default)
    {
        var g = new double[gram.Length];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = gram[i];
        }

        return FromGram(g, dimension, options, cancellationToken);
    }

    /// <summary>Whitening of the symmetric positive semi-definite n×n Gram matrix (row-major): Cholesky when every pivot
    /// stays above the floor, else the regularized eigen-decomposition (see <see cref="WhiteningOptions"/>).</summary>
    public static InputWhitening FromGram(ReadOnlySpan<double> gram, int dimension, WhiteningOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (gram.Length != (long)dimension * dimension)
        {
            throw new ArgumentException($"gram holds {gram.Length} values but {dimension}×{dimension} needs {(long)dimension * dimension}.", nameof(gram));
        }

        options ??= new WhiteningOptions();
        var n = dimension;
        var g = gram.ToArray();
        var trace = 0.0;
        var maxDiag = 0.0;
        for (var i = 0; i < n; i++)
        {
            var d = g[i * n + i];
            if (!double.IsFinite(d) || d < 0)
            {
                throw new OnnxFactorizeException($"Gram matrix diagonal entry {i} is {d}; a Gram matrix of real inputs has finite, non-negative diagonal entries.");
            }

            trace += d;
            maxDiag = Math.Max(maxDiag, d);
        }

        if (maxDiag == 0)
        {
            throw new OnnxFactorizeException("Gram matrix is zero: the calibration inputs never reached this value (or were all zero), so no data-aware whitening exists; use more or different calibration samples.");
        }

        // Symmetrize: accumulated Gram matrices can differ in the last bits between (i,j) and (j,i).
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                var v = 0.5 * (g[i * n + j] + g[j * n + i]);
                g[i * n + j] = v;
                g[j * n + i] = v;
            }
        }

        var ridge = options.RelativeRidge * trace / n;
        for (var i = 0; i < n; i++)
        {
            g[i * n + i] += ridge;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var l = (double[])g.Clone();
        if (TryCholesky(l, n, options.EigenFloor * (maxDiag + ridge)))
        {
            var inverse = LowerInverse(l, n, cancellationToken);
            return new InputWhitening(n, WhiteningMethod.Cholesky, ridge, 0, ToFloat(l), ToFloat(inverse));
        }

        return Eigen(g, n, ridge, options.EigenFloor, cancellationToken);
    }

    // G = Q Λ Qᵀ; eigenvalues below floor·λ_max (zero, or negative from rounding) are lifted to it, so S = Q Λ'^½ is
    // invertible and S Sᵀ = G + Q (Λ' − Λ) Qᵀ ⪰ G: whitened errors then bound the data error from above.
    private static InputWhitening Eigen(double[] g, int n, double ridge, double relativeFloor, CancellationToken cancellationToken)
    {
        var (values, vectors) = SymmetricEigen.Decompose(g, n, cancellationToken);
        var floor = relativeFloor * Math.Max(values[0], 0.0);
        var s = new float[n * n];
        var sInverse = new float[n * n];
        var lifted = 0;
        for (var c = 0; c < n; c++)
        {
            var lambda = values[c];
            if (lambda < floor)
            {
                lambda = floor;
                lifted++;
            }

            var root = Math.Sqrt(lambda);
            for (var r = 0; r < n; r++)
            {
                var q = vectors[c * n + r];
                s[r * n + c] = (float)(q * root);
                sInverse[c * n + r] = (float)(q / root);
            }
        }

        return new InputWhitening(n, WhiteningMethod.RegularizedEigen, ridge, lifted, s, sInverse);
    }

    // In-place lower Cholesky factor (upper triangle zeroed); false when a pivot is not above the floor.
    private static bool TryCholesky(double[] a, int n, double floor)
    {
        for (var j = 0; j < n; j++)
        {
            var rowJ = a.AsSpan(j * n, j);
            var d = a[j * n + j] - MatrixOps.Dot(rowJ, rowJ);
            if (!(d > floor))
            {
                return false;
            }

            var root = Math.Sqrt(d);
            a[j * n + j] = root;
            for (var i = j + 1; i < n; i++)
            {
                a[i * n + j] = (a[i * n + j] - MatrixOps.Dot(a.AsSpan(i * n, j), rowJ)) / root;
            }

            for (var c = j + 1; c < n; c++)
            {
                a[j * n + c] = 0;
            }
        }

        return true;
    }

    // L⁻¹ of a lower triangular L (also lower triangular), row by row: row i of L⁻¹ solves the forward substitution
    // Σ_p L[i,p] X[p,j] = δ_ij, i.e. X[i,:] = (e_i − Σ_{p<i} L[i,p] X[p,:]) / L[i,i].
    private static double[] LowerInverse(double[] l, int n, CancellationToken cancellationToken)
    {
        var x = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            if ((i & 63) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var row = x.AsSpan(i * n, i + 1);
            row[i] = 1.0;
            for (var p = 0; p < i; p++)
            {
                var f = l[i * n + p];
                if (f != 0)
                {
                    var head = row[..(p + 1)];
                    TensorPrimitives.MultiplyAdd(x.AsSpan(p * n, p + 1), -f, head, head);
                }
            }

            TensorPrimitives.Multiply(row, 1.0 / l[i * n + i], row);
        }

        return x;
    }

    private static float[] ToFloat(double[] a) => Array.ConvertAll(a, v => (float)v);
}
