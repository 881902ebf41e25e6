using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace OnnxFactorize.Decomposition;

/// <summary>Truncated and full SVD of row-major float32 matrices: randomized range finder with power iterations
/// (Halko, Martinsson &amp; Tropp 2011, Algorithms 4.4/5.1) for large matrices, a double-precision Gram eigen-solver otherwise.</summary>
internal static class TruncatedSvd
{
    // Below this smaller dimension the exact path is cheaper than the randomized machinery.
    private const int ExactDimension = 96;

    // When the sketch would cover this fraction of the smaller dimension, randomization saves nothing.
    private const double ExactSketchFraction = 0.6;

    // Automatic power iterations stop once an iteration adds less captured energy than a fraction of what is still
    // missing, and never run more than AutomaticMaxIterations. The fraction follows scikit-learn's default accuracy
    // target (randomized_svd runs 7 iterations for k < 0.1·min(m,n), 4 otherwise): on slowly decaying spectra
    // (σ_i ∝ i^-½) the tight tolerance stops after 6 shifted iterations and the loose one after 4, each with an error
    // at or below sklearn's (tools/svd-compare).
    private const double AutomaticTolerance = 1.1e-3;
    private const double AutomaticToleranceLargeRank = 1e-2;
    private const double LargeRankFraction = 0.1;
    private const int AutomaticMaxIterations = 10;

    // Enough CholQR passes to reach orthonormality from any conditioning the float Gram can resolve.
    private const int FullPasses = 4;

    // Shift as a fraction of the smallest Ritz value σ_l(QᵀA)²: below the ½ of dashSVD to absorb estimation error.
    private const double ShiftFraction = 0.4;

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

    private static double FrobeniusSquared(float[] a) => FrobeniusSquared(a, -1);

    // Fixed-size chunks summed in parallel, then added in order: the same bits for any number of workers.
    private static double FrobeniusSquared(float[] a, int dop)
    {
        const int Chunk = 1 << 18;
        var chunks = (a.Length + Chunk - 1) / Chunk;
        if (chunks <= 1)
        {
            return FrobeniusSquared(a.AsSpan());
        }

        var partial = new double[chunks];
        var options = new ParallelOptions { MaxDegreeOfParallelism = Parallelism.Resolve(dop) };
        Parallel.For(0, chunks, options, c => partial[c] = FrobeniusSquared(a.AsSpan(c * Chunk, Math.Min(Chunk, a.Length - c * Chunk))));
        var total = 0.0;
        foreach (var p in partial)
        {
            total += p;
        }

        return total;
    }

    private static double FrobeniusSquared(ReadOnlySpan<float> a)
    {
        // Widened to double before squaring: float accumulation over millions of terms would lose digits.
        var sum = Vector256<double>.Zero;
        var i = 0;
        for (; i + 8 <= a.Length; i += 8)
        {
            var (lo, hi) = Vector256.Widen(Vector256.Create(a.Slice(i, 8)));
            sum = Vector256.MultiplyAddEstimate(lo, lo, sum);
            sum = Vector256.MultiplyAddEstimate(hi, hi, sum);
        }

        var total = Vector256.Sum(sum);
        for (; i < a.Length; i++)
        {
            total += (double)a[i] * a[i];
        }

        return total;
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
        var rng = new Random(options.Seed);
        var normSq = FrobeniusSquared(a, dop);

        var omega = new float[n * l];
        Orthonormalizer.FillGaussianParallel(omega, rng, dop);

        var y = new float[m * l];
        MatrixOps.GemmCore(a, m, n, omega, l, y, transA: false, transB: false, dop);
        // One CholQR pass per product keeps the basis well conditioned, as sklearn's LU normalizer does; the basis is
        // made fully orthonormal once, at the end.
        var q = Orthonormalizer.Orthonormalize(y, m, l, rng, 1, dop);

        var automatic = options.PowerIterations < 0;
        var maxIterations = automatic ? AutomaticMaxIterations : options.PowerIterations;
        var tolerance = k < LargeRankFraction * Math.Min(m, n) ? AutomaticTolerance : AutomaticToleranceLargeRank;
        var z = new float[n * l];
        var r = new double[l * l];
        var transform = new float[l * l];
        var raw = new float[m * l];
        var shift = 0.0;
        var previous = double.NaN;
        for (var iteration = 0; ; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Z = AᵀQ = Bᵀ for the current basis; ‖Z‖_F² is the energy Q captures.
            MatrixOps.GemmCore(a, n, m, q, l, z, transA: true, transB: false, dop);
            if (iteration >= maxIterations)
            {
                break;
            }

            if (automatic)
            {
                var captured = FrobeniusSquared(z);
                if (iteration > 0 && captured - previous <= tolerance * Math.Max(normSq - captured, 0.0))
                {
                    break;
                }

                previous = captured;
            }

            // Shifted power step (dashSVD, Feng et al. 2023): iterate with AAᵀ − αI instead of AAᵀ. With α at most half
            // the smallest Ritz value σ_l(QᵀA)² ≤ σ_l(A)², every tail eigenvalue stays smaller in magnitude than the kept
            // ones, while the ratio (σ_{l+1}² − α)/(σ_k² − α) that governs convergence shrinks: for slowly decaying
            // spectra this converges ~1.5× faster per product.
            if (Orthonormalizer.TryFactor(z, n, l, dop, transform, r))
            {
                // Z = Z_q R with T = R⁻¹: Y = ((AAᵀ − αI)Q)·T = (A·Z − αQ)·T, the column transform applied once to the
                // m×l result instead of to Z (n×l) and Q before the product. A·Z − αQ is ill-conditioned, but nothing
                // is factored from it before T, so its float rounding is amplified only by ‖T‖ = 1/σ_min(Z), as the
                // rounding of A·(Z·T) would be.
                var smallest = SmallestSingularValueSquared(r, l);
                if (smallest > 0)
                {
                    shift = Math.Max(shift, ShiftFraction * smallest);
                }

                MatrixOps.GemmCore(a, m, n, z, l, raw, transA: false, transB: false, dop);
                if (shift > 0)
                {
                    TensorPrimitives.MultiplyAdd(q, (float)-shift, raw, raw);
                }

                MatrixOps.GemmCore(raw, m, l, transform, l, y, transA: false, transB: false, dop);
            }
            else
            {
                // A dependent column of Z: Orthonormalize replaces it with a random direction, so Z_q·T no longer
                // equals the transform of Q, and the shift (which relies on that identity) is skipped this step.
                var qt = (float[])q.Clone();
                var zq = Orthonormalizer.Orthonormalize(z, n, l, rng, 1, dop, r, qt, m, out var qtExact);
                MatrixOps.GemmCore(a, m, n, zq, l, y, transA: false, transB: false, dop);
                if (qtExact && shift > 0)
                {
                    TensorPrimitives.MultiplyAdd(qt, (float)-shift, y, y);
                }
            }

            q = Orthonormalizer.Orthonormalize(y, m, l, rng, 1, dop);
        }

        // Finish orthonormalizing Q; Z = AᵀQ follows by the same small column transform unless a column was replaced.
        q = Orthonormalizer.Orthonormalize(q, m, l, rng, FullPasses, dop, null, z, n, out var zExact);
        if (!zExact)
        {
            MatrixOps.GemmCore(a, n, m, q, l, z, transA: true, transB: false, dop);
        }


        cancellationToken.ThrowIfCancellationRequested();

        // Small SVD of B = QᵀA = Zᵀ: CholQR gives Z = Q_z R, so B = Rᵀ Q_zᵀ and only the l×l matrix Rᵀ needs an SVD,
        // here through the eigen-decomposition of RᵀR = BBᵀ in double. Rᵀ = U_r Σ V_rᵀ gives U = Q U_r, Vᵀ = (Q_z V_r)ᵀ.
        var qz = Orthonormalizer.Orthonormalize(z, n, l, rng, FullPasses, dop, r);
        var rt = new double[l * l];
        for (var i = 0; i < l; i++)
        {
            for (var j = i; j < l; j++)
            {
                rt[j * l + i] = r[i * l + j];
            }
        }

        var gram = new double[l * l];
        for (var i = 0; i < l; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var sum = MatrixOps.Dot(rt.AsSpan(i * l, j + 1), rt.AsSpan(j * l, j + 1));
                gram[i * l + j] = sum;
                gram[j * l + i] = sum;
            }
        }

        var (values, vectors) = SymmetricEigen.Decompose(gram, l, cancellationToken);
        var s = new double[k];
        for (var i = 0; i < k; i++)
        {
            s[i] = Math.Sqrt(Math.Max(values[i], 0.0));
        }

        var ubRows = ToFloat(vectors.AsSpan(0, k * l));
        var u = new float[m * k];
        MatrixOps.GemmCore(q, m, l, ubRows, k, u, transA: false, transB: true, dop);

        // Row c of V_rᵀ is (R u_c)ᵀ/σ_c; OrthonormalizeRows normalizes it and repairs rows whose σ is at rounding level.
        var vr = new double[k * l];
        for (var c = 0; c < k; c++)
        {
            var uc = vectors.AsSpan(c * l, l);
            for (var j = 0; j < l; j++)
            {
                vr[c * l + j] = MatrixOps.Dot(r.AsSpan(j * l + j, l - j), uc[j..]);
            }
        }

        OrthonormalizeRows(vr, k, l, rng);
        var vrRows = ToFloat(vr);
        var vtColumns = new float[n * k];
        MatrixOps.GemmCore(qz, n, l, vrRows, k, vtColumns, transA: false, transB: true, dop);
        var vt = new float[k * n];
        MatrixOps.Transpose(vtColumns, n, k, vt);
        return new SvdResult(m, n, u, s, vt, normSq);
    }

    // Modified Gram–Schmidt, applied twice ("twice is enough"), in double on the rows of a small k×l matrix; a row that
    // collapses (its singular value is at rounding level) is replaced by a random direction orthogonal to the others.
    private static void OrthonormalizeRows(double[] x, int k, int l, Random rng)
    {
        for (var i = 0; i < k; i++)
        {
            var row = x.AsSpan(i * l, l);
            var original = Math.Sqrt(MatrixOps.Dot(row, row));
            for (var attempt = 0; ; attempt++)
            {
                for (var sweep = 0; sweep < 2; sweep++)
                {
                    for (var j = 0; j < i; j++)
                    {
                        var other = x.AsSpan(j * l, l);
                        var proj = MatrixOps.Dot(row, other);
                        for (var p = 0; p < l; p++)
                        {
                            row[p] -= proj * other[p];
                        }
                    }
                }

                var norm = Math.Sqrt(MatrixOps.Dot(row, row));
                if (norm > 1e-6 * original && norm > 0 || attempt > 3)
                {
                    TensorPrimitives.Multiply(row, 1.0 / norm, row);
                    break;
                }

                for (var p = 0; p < l; p++)
                {
                    row[p] = Orthonormalizer.Gaussian(rng);
                }

                original = Math.Sqrt(MatrixOps.Dot(row, row));
            }
        }
    }

    // Estimate of σ_min(R)² for upper-triangular R by inverse iteration on RᵀR (two triangular solves per step). The
    // estimate approaches from above, which ShiftFraction absorbs; 0 when R is singular.
    private static double SmallestSingularValueSquared(double[] r, int l)
    {
        for (var i = 0; i < l; i++)
        {
            if (!(Math.Abs(r[i * l + i]) > 0))
            {
                return 0.0;
            }
        }

        var x = new double[l];
        Array.Fill(x, 1.0 / Math.Sqrt(l));
        var y = new double[l];
        var estimate = 0.0;
        for (var step = 0; step < 12; step++)
        {
            // Rᵀy = x (forward), then R x = y (backward).
            for (var i = 0; i < l; i++)
            {
                var acc = x[i];
                for (var p = 0; p < i; p++)
                {
                    acc -= r[p * l + i] * y[p];
                }

                y[i] = acc / r[i * l + i];
            }

            for (var i = l - 1; i >= 0; i--)
            {
                var acc = y[i];
                for (var p = i + 1; p < l; p++)
                {
                    acc -= r[i * l + p] * x[p];
                }

                x[i] = acc / r[i * l + i];
            }

            var norm = Math.Sqrt(MatrixOps.Dot(x, x));
            if (!double.IsFinite(norm) || norm == 0)
            {
                return 0.0;
            }

            estimate = 1.0 / norm;
            TensorPrimitives.Multiply(x, 1.0 / norm, x);
        }

        return estimate;
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
