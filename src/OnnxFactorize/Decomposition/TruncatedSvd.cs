using System.Numerics.Tensors;

namespace OnnxFactorize.Decomposition;

/// <summary>Truncated and full SVD of row-major float32 matrices: randomized range finder with power iterations
/// (Halko, Martinsson &amp; Tropp 2011, Algorithms 4.4/5.1) for large matrices, a double-precision Gram eigen-solver otherwise.</summary>
public static class TruncatedSvd
{
    // Below this smaller dimension the exact path is cheaper than the randomized machinery.
    private const int ExactDimension = 96;

    // When the sketch would cover this fraction of the smaller dimension, randomization saves nothing.
    private const double ExactSketchFraction = 0.6;

    // Automatic power iterations stop once an iteration adds less captured energy than this fraction of what is still
    // missing, and never run more than AutomaticMaxIterations.
    private const double AutomaticTolerance = 2e-3;
    private const int AutomaticMaxIterations = 10;

    // Enough CholQR passes to reach orthonormality from any conditioning the float Gram can resolve.
    private const int FullPasses = 4;

    /// <summary>Top-k SVD of the row-major rows×cols matrix; exact path for small matrices or k close to min(rows,cols), randomized otherwise. Deterministic for a seed.</summary>
    public static SvdResult Compute(ReadOnlySpan<float> matrix, int rows, int cols, int rank, SvdOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckShape(matrix, rows, cols);
        var smaller = Math.Min(rows, cols);
        if (rank < 1 || rank > smaller)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be in [1, {smaller}] for a {rows}×{cols} matrix, got {rank}.");
        }

        options ??= new SvdOptions();
        cancellationToken.ThrowIfCancellationRequested();
        var a = matrix[..(rows * cols)].ToArray();
        var sketch = Math.Min(smaller, rank + options.Oversamples);
        if (smaller <= ExactDimension || sketch >= ExactSketchFraction * smaller)
        {
            return Truncate(Exact(a, rows, cols, options.MaxDegreeOfParallelism, cancellationToken), rank);
        }

        return Randomized(a, rows, cols, rank, sketch, options, cancellationToken);
    }

    /// <summary>Full (exact) SVD, all min(rows,cols) triplets.</summary>
    public static SvdResult ComputeExact(ReadOnlySpan<float> matrix, int rows, int cols, CancellationToken cancellationToken = default)
    {
        CheckShape(matrix, rows, cols);
        cancellationToken.ThrowIfCancellationRequested();
        return Exact(matrix[..(rows * cols)].ToArray(), rows, cols, -1, cancellationToken);
    }

    private static void CheckShape(ReadOnlySpan<float> matrix, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        if (matrix.Length != (long)rows * cols)
        {
            throw new ArgumentException($"matrix holds {matrix.Length} values but {rows}×{cols} needs {(long)rows * cols}.", nameof(matrix));
        }
    }

    private static double FrobeniusSquared(float[] a)
    {
        var sum = 0.0;
        foreach (var x in a)
        {
            sum += (double)x * x;
        }

        return sum;
    }

    // Exact SVD through the eigen-decomposition of the smaller Gram matrix, accumulated in double: σ² are exact to
    // double rounding of a float32 input, so singular values down to ~1e-7·σ₁ (float32 resolution) are meaningful.
    private static SvdResult Exact(float[] a, int m, int n, int dop, CancellationToken cancellationToken)
    {
        if (m > n)
        {
            var at = new float[a.Length];
            MatrixOps.Transpose(a, m, n, at);
            var wide = Exact(at, n, m, dop, cancellationToken);

            // A = (Aᵀ)ᵀ = V Σ Uᵀ: swap and transpose the factors.
            var u = new float[m * n];
            var vt = new float[n * n];
            MatrixOps.Transpose(wide.Vt, n, m, u);
            MatrixOps.Transpose(wide.U, n, n, vt);
            return new SvdResult(m, n, u, wide.S, vt, wide.FrobeniusNormSquared);
        }

        var normSq = FrobeniusSquared(a);
        var gram = MatrixOps.GramRowsDouble(a, m, n, dop);
        cancellationToken.ThrowIfCancellationRequested();
        var (values, vectors) = SymmetricEigen.Decompose(gram, m, cancellationToken);
        var s = new double[m];
        for (var i = 0; i < m; i++)
        {
            s[i] = Math.Sqrt(Math.Max(values[i], 0.0));
        }

        var uRows = ToFloat(vectors);
        var uMatrix = new float[m * m];
        MatrixOps.Transpose(uRows, m, m, uMatrix);
        var rightRows = RightVectors(uRows, m, a, n, s, m, dop, cancellationToken);
        return new SvdResult(m, n, uMatrix, s, rightRows, normSq);
    }

    // Rows of Σ⁻¹ Uᵀ A (k×n), re-orthonormalized: the rows for tiny σ are dominated by rounding, so CholQR keeps the
    // leading rows and turns the rest into an orthonormal completion.
    private static float[] RightVectors(float[] uRows, int l, float[] a, int n, double[] s, int k, int dop, CancellationToken cancellationToken)
    {
        var w = new float[k * n];
        MatrixOps.GemmCore(uRows, k, l, a, n, w, transA: false, transB: false, dop);
        var floor = s[0] * 1e-30;
        for (var i = 0; i < k; i++)
        {
            var scale = s[i] > floor ? (float)(1.0 / s[i]) : 0f;
            TensorPrimitives.Multiply(w.AsSpan(i * n, n), scale, w.AsSpan(i * n, n));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var columns = new float[n * k];
        MatrixOps.Transpose(w, k, n, columns);
        var q = Orthonormalizer.Orthonormalize(columns, n, k, new Random(k), FullPasses, dop);
        var vt = new float[k * n];
        MatrixOps.Transpose(q, n, k, vt);
        return vt;
    }

    private static SvdResult Randomized(float[] a, int m, int n, int k, int l, SvdOptions options, CancellationToken cancellationToken)
    {
        var dop = options.MaxDegreeOfParallelism;
        var swT = System.Diagnostics.Stopwatch.StartNew();
        void T(string what) { Console.Error.WriteLine($"TRACE {what} {swT.Elapsed.TotalMilliseconds:F0}"); }
        var rng = new Random(options.Seed);
        var normSq = FrobeniusSquared(a);

        var omega = new float[n * l];
        for (var i = 0; i < omega.Length; i++)
        {
            omega[i] = (float)Orthonormalizer.Gaussian(rng);
        }

        var y = new float[m * l];
        MatrixOps.GemmCore(a, m, n, omega, l, y, transA: false, transB: false, dop);
        T("sketch");
        var q = Orthonormalizer.Orthonormalize(y, m, l, rng, FullPasses, dop);
        T("orth");

        var automatic = options.PowerIterations < 0;
        var maxIterations = automatic ? AutomaticMaxIterations : options.PowerIterations;
        var z = new float[n * l];
        var previous = double.NaN;
        for (var iteration = 0; ; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Z = AᵀQ = Bᵀ for the current basis; ‖Z‖_F² is the energy Q captures.
            MatrixOps.GemmCore(a, n, m, q, l, z, transA: true, transB: false, dop);
            T("AtQ");
            if (iteration >= maxIterations)
            {
                break;
            }

            if (automatic)
            {
                var captured = FrobeniusSquared(z);
                if (iteration > 0 && captured - previous <= AutomaticTolerance * Math.Max(normSq - captured, 0.0))
                {
                    break;
                }

                previous = captured;
            }

            // One CholQR pass keeps the basis well conditioned, as sklearn's LU normalizer does.
            var zq = Orthonormalizer.Orthonormalize(z, n, l, rng, 1, dop);
            T("orthz");
            MatrixOps.GemmCore(a, m, n, zq, l, y, transA: false, transB: false, dop);
            T("AZ");
            q = Orthonormalizer.Orthonormalize(y, m, l, rng, FullPasses, dop);
            T("orthy");
        }

        cancellationToken.ThrowIfCancellationRequested();

        // Small SVD of B = QᵀA (l×n) through the eigen-decomposition of B Bᵀ = ZᵀZ in double.
        var zt = new float[l * n];
        MatrixOps.Transpose(z, n, l, zt);
        var gram = MatrixOps.GramRowsDouble(zt, l, n, dop);
        T("gram");
        var (values, vectors) = SymmetricEigen.Decompose(gram, l, cancellationToken);
        T("eig");
        var s = new double[k];
        for (var i = 0; i < k; i++)
        {
            s[i] = Math.Sqrt(Math.Max(values[i], 0.0));
        }

        var ubRows = ToFloat(vectors.AsSpan(0, k * l));
        var u = new float[m * k];
        MatrixOps.GemmCore(q, m, l, ubRows, k, u, transA: false, transB: true, dop);
        T("u");
        var vt = RightVectors(ubRows, l, zt, n, s, k, dop, cancellationToken);
        T("vt");
        return new SvdResult(m, n, u, s, vt, normSq);
    }

    private static SvdResult Truncate(SvdResult full, int k)
    {
        if (k == full.Rank)
        {
            return full;
        }

        var rank = full.Rank;
        var u = new float[full.Rows * k];
        for (var i = 0; i < full.Rows; i++)
        {
            Array.Copy(full.U, i * rank, u, i * k, k);
        }

        var vt = full.Vt.AsSpan(0, k * full.Cols).ToArray();
        return new SvdResult(full.Rows, full.Cols, u, full.S[..k], vt, full.FrobeniusNormSquared);
    }

    private static float[] ToFloat(ReadOnlySpan<double> values)
    {
        var result = new float[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            result[i] = (float)values[i];
        }

        return result;
    }
}
