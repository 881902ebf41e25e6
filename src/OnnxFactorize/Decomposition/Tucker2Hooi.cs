using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OnnxFactorize.Decomposition;

/// <summary>The float32 GEMM engine behind <see cref="Tucker2"/>: every contraction is one product on the
/// <see cref="MatrixOps"/> backend (ONNX Runtime's MLAS SGEMM for large shapes), the mode Gram matrices are blocked
/// symmetric products, and the leading subspace of a Gram matrix comes from subspace (orthogonal) iteration with CholQR
/// with Rayleigh–Ritz on an oversampled block instead of a full eigen-decomposition: a few steps from a seeded random
/// start for the HOSVD, then per HOOI sweep a couple of steps warm-started from the previous sweep's block. HOOI only
/// needs the span of each factor (the core absorbs any rotation), so the factors need not be converged eigenvectors;
/// the loop keeps exact HOOI's stopping rule (De Lathauwer et al. 2000).</summary>
internal static class Tucker2Hooi
{
    // Rayleigh–Ritz steps on a mode Gram matrix: from the random start of the HOSVD, and per HOOI sweep from the
    // previous sweep's block. Fewer sweep steps leave the subspaces lagging, so HOOI needs more sweeps to meet its
    // stopping rule; 2 matched the sweeps of exact HOOI on decaying spectra (tools/tucker-compare).
    private const int HosvdSteps = 6;
    private const int SweepSteps = 2;

    // Steps stop once one adds less captured energy than this fraction of what the subspace still misses.
    private const double StepTolerance = 1e-4;

    // CholQR passes: two reach float orthonormality from any conditioning the float Gram resolves (CholQR2); a third
    // only runs if a column had to be replaced.
    private const int FinalPasses = 3;

    // Oversampling of the iterated block, l = r + max(MinOversamples, r / OversampleDivisor): convergence goes as
    // (λ_{l+1}/λ_r)^steps; when l reaches ExactFraction·n the full eigen-decomposition is cheaper.
    private const int MinOversamples = 8;
    private const int OversampleDivisor = 4;
    private const double ExactFraction = 0.8;

    // Mode Gram matrices with at least this many rows are formed block by block, skipping the upper blocks (a SYRK
    // from GEMMs): 4 blocks of 128 rows do 10/16 of the full product's work.
    private const int GramBlock = 128;

    public static Tucker2Result Decompose(ReadOnlySpan<float> w, int outDim, int inDim, int spatial, int rankOut, int rankIn, Tucker2Options options, CancellationToken cancellationToken)
    {
        var dop = options.MaxDegreeOfParallelism;
        var rng = new Random(options.Seed);
        var x0 = w[..(outDim * inDim * spatial)].ToArray(); // mode-0 unfolding [out, in·s]
        var x1 = Permute(x0, outDim, inDim, spatial); // mode-1 unfolding [in, out·s]
        var norm2 = SumSquares(x0);

        // HOSVD: leading subspaces of the two unfoldings.
        var (uOut, blockOut) = LeadingSubspace(Gram(x0, outDim, inDim * spatial, dop), outDim, rankOut, null, HosvdSteps, rng, dop, cancellationToken);
        var (uIn, blockIn) = LeadingSubspace(Gram(x1, inDim, outDim * spatial, dop), inDim, rankIn, null, HosvdSteps, rng, dop, cancellationToken);
        var z1 = ProjectOut(x0, outDim, inDim, spatial, uOut, rankOut, dop);
        var (core, kept) = Core(z1, inDim, rankOut, spatial, uIn, rankIn, dop);
        var hosvd = (UOut: uOut, UIn: uIn, Core: core);
        var fit = ErrorFromEnergy(norm2, kept);
        var iterations = 0;
        while (iterations < options.MaxIterations && fit > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // HOOI: U_out spans the leading subspace of W ×₁ U_inᵀ, then U_in that of W ×₀ U_outᵀ.
            var y = new float[rankIn * outDim * spatial];
            MatrixOps.GemmCore(uIn, rankIn, inDim, x1, outDim * spatial, y, transA: true, transB: false, dop); // [r_in, out, s]
            var y0 = Permute(y, rankIn, outDim, spatial); // [out, r_in·s]
            var (nextOut, nextBlockOut) = LeadingSubspace(Gram(y0, outDim, rankIn * spatial, dop), outDim, rankOut, blockOut, SweepSteps, rng, dop, cancellationToken);
            var nextZ1 = ProjectOut(x0, outDim, inDim, spatial, nextOut, rankOut, dop);
            var (nextIn, nextBlockIn) = LeadingSubspace(Gram(nextZ1, inDim, rankOut * spatial, dop), inDim, rankIn, blockIn, SweepSteps, rng, dop, cancellationToken);
            var (nextCore, nextKept) = Core(nextZ1, inDim, rankOut, spatial, nextIn, rankIn, dop);
            var nextFit = ErrorFromEnergy(norm2, nextKept);
            iterations++;
            if (nextFit > fit)
            {
                break;
            }

            var improvement = fit - nextFit;
            (uOut, uIn, core, fit) = (nextOut, nextIn, nextCore, nextFit);
            (blockOut, blockIn) = (nextBlockOut, nextBlockIn);
            if (improvement < options.Tolerance)
            {
                break;
            }
        }

        // The energy identity ‖W − Ŵ‖² = ‖W‖² − ‖G‖² loses the digits of a near-exact fit to float rounding of ‖G‖², so
        // the reported errors are measured on the reconstruction; HOOI never returns a worse fit than its HOSVD start.
        var hosvdError = DirectError(x0, norm2, outDim, inDim, spatial, hosvd.UOut, rankOut, hosvd.UIn, rankIn, hosvd.Core, dop);
        var error = iterations == 0 ? hosvdError : DirectError(x0, norm2, outDim, inDim, spatial, uOut, rankOut, uIn, rankIn, core, dop);
        if (error > hosvdError)
        {
            (uOut, uIn, core, error) = (hosvd.UOut, hosvd.UIn, hosvd.Core, hosvdError);
        }

        return new Tucker2Result(outDim, inDim, spatial, rankOut, rankIn, uOut, uIn, core, norm2, hosvdError, error, iterations);
    }

    /// <summary>Ŵ[o, i, s] = Σ_ab U_out[o,a] G[a,b,s] U_in[i,b] as two products, row-major [out, in·s].</summary>
    public static float[] Reconstruct(int outDim, int inDim, int spatial, float[] uOut, int rankOut, float[] uIn, int rankIn, float[] core, int dop)
    {
        var g = Permute(core, rankOut, rankIn, spatial); // [r_in, r_out·s]
        var h = new float[inDim * rankOut * spatial];
        MatrixOps.GemmCore(uIn, inDim, rankIn, g, rankOut * spatial, h, transA: false, transB: false, dop); // [in, r_out, s]
        var hp = Permute(h, inDim, rankOut, spatial); // [r_out, in·s]
        var result = new float[outDim * inDim * spatial];
        MatrixOps.GemmCore(uOut, outDim, rankOut, hp, inDim * spatial, result, transA: false, transB: false, dop);
        return result;
    }

    /// <summary>x[a, b, s] → y[b, a, s] for row-major x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float[] Permute(float[] x, int a, int b, int s)
    {
        var y = new float[a * b * s];
        if (s == 1)
        {
            MatrixOps.Transpose(x, a, b, y);
            return y;
        }

        for (var p = 0; p < a; p++)
        {
            for (var q = 0; q < b; q++)
            {
                x.AsSpan((p * b + q) * s, s).CopyTo(y.AsSpan((q * a + p) * s, s));
            }
        }

        return y;
    }

    /// <summary>G = X·Xᵀ (rows×rows, float) of a row-major rows×cols matrix: lower blocks only for large row counts,
    /// mirrored so G is exactly symmetric.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float[] Gram(float[] x, int rows, int cols, int dop)
    {
        var g = new float[rows * rows];
        var blocks = rows >= 2 * GramBlock ? (rows + GramBlock - 1) / GramBlock : 1;
        var size = blocks == 1 ? rows : GramBlock;
        var parts = new float[blocks][];
        for (var b = 0; b < blocks; b++)
        {
            var height = Math.Min(size, rows - b * size);
            parts[b] = blocks == 1 ? x : x.AsSpan(b * size * cols, height * cols).ToArray();
        }

        for (var bi = 0; bi < blocks; bi++)
        {
            var hi = Math.Min(size, rows - bi * size);
            for (var bj = 0; bj <= bi; bj++)
            {
                var hj = Math.Min(size, rows - bj * size);
                var c = new float[hi * hj];
                MatrixOps.GemmCore(parts[bi], hi, cols, parts[bj], hj, c, transA: false, transB: true, dop);
                for (var i = 0; i < hi; i++)
                {
                    var row = bi * size + i;
                    var last = bi == bj ? i : hj - 1;
                    for (var j = 0; j <= last; j++)
                    {
                        var col = bj * size + j;
                        g[row * rows + col] = c[i * hj + j];
                        g[col * rows + row] = c[i * hj + j];
                    }
                }
            }
        }

        return g;
    }

    // An n×r orthonormal basis of (approximately) the leading r-dimensional eigenspace of the PSD n×n Gram matrix g,
    // and the n×l block to warm-start the next call with. Subspace iteration with Rayleigh–Ritz on an oversampled block
    // (Saad, Numerical Methods for Large Eigenvalue Problems, §5.2): each step projects g on the block (l×l eigen-problem
    // in double), scales g·(Ritz vectors) by the Ritz values so the block stays near-orthonormal, and re-orthonormalizes
    // with CholQR, whose leading r columns keep the span of the leading r Ritz directions. Convergence goes as
    // (λ_{l+1}/λ_r)^steps instead of (λ_{r+1}/λ_r)^steps. Small problems take the full eigen-decomposition.
    private static (float[] U, float[]? Block) LeadingSubspace(float[] g, int n, int r, float[]? start, int maxSteps, Random rng, int dop, CancellationToken cancellationToken)
    {
        if (r == n)
        {
            var identity = new float[n * n];
            for (var i = 0; i < n; i++)
            {
                identity[i * n + i] = 1f;
            }

            return (identity, null);
        }

        var l = Math.Min(n, r + Math.Max(MinOversamples, r / OversampleDivisor));
        if (l >= ExactFraction * n)
        {
            return (ExactLeading(g, n, r, cancellationToken), null);
        }

        var q = start;
        if (q is null)
        {
            q = new float[n * l];
            Orthonormalizer.FillGaussianParallel(q, rng, dop);
            q = Orthonormalizer.Orthonormalize(q, n, l, rng, FinalPasses, dop);
        }

        var trace = 0.0;
        for (var i = 0; i < n; i++)
        {
            trace += g[i * n + i];
        }

        var p = new float[n * l];
        var b = new float[l * l];
        var bd = new double[l * l];
        var scaled = new float[l * l];
        var previous = 0.0;
        for (var step = 0; step < maxSteps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            MatrixOps.GemmCore(g, n, n, q, l, p, transA: false, transB: false, dop);
            MatrixOps.GemmCore(q, l, n, p, l, b, transA: true, transB: false, dop);
            for (var i = 0; i < l; i++)
            {
                for (var j = 0; j < l; j++)
                {
                    bd[i * l + j] = 0.5 * ((double)b[i * l + j] + b[j * l + i]);
                }
            }

            var (theta, vectors) = SymmetricEigen.Decompose(bd, l, cancellationToken);
            var energy = 0.0;
            for (var k = 0; k < r; k++)
            {
                energy += theta[k];
            }

            // scaled[i, k] = v_k[i] / θ_k: g·Q·scaled ≈ Q·V (plus the new directions), well conditioned whatever the spread.
            var floor = Math.Max(theta[0], double.Epsilon) * 1e-6;
            for (var k = 0; k < l; k++)
            {
                var inv = 1.0 / Math.Max(theta[k], floor);
                for (var i = 0; i < l; i++)
                {
                    scaled[i * l + k] = (float)(vectors[k * l + i] * inv);
                }
            }

            var x = new float[n * l];
            MatrixOps.GemmCore(p, n, l, scaled, l, x, transA: false, transB: false, dop);
            q = Orthonormalizer.Orthonormalize(x, n, l, rng, FinalPasses, dop);
            if (step > 0 && energy - previous <= StepTolerance * Math.Max(trace - energy, 0))
            {
                break;
            }

            previous = energy;
        }

        var u = new float[n * r];
        for (var i = 0; i < n; i++)
        {
            Array.Copy(q, i * l, u, i * r, r);
        }

        return (u, q);
    }

    // The r leading eigenvectors of g from the full double-precision eigen-decomposition.
    private static float[] ExactLeading(float[] g, int n, int r, CancellationToken cancellationToken)
    {
        var gd = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                gd[i * n + j] = 0.5 * ((double)g[i * n + j] + g[j * n + i]);
            }
        }

        var (_, vectors) = SymmetricEigen.Decompose(gd, n, cancellationToken);
        var u = new float[n * r];
        for (var k = 0; k < r; k++)
        {
            for (var i = 0; i < n; i++)
            {
                u[i * r + k] = (float)vectors[k * n + i];
            }
        }

        return u;
    }

    // Z1[i, a, s] = Σ_o U_out[o,a] W[o,i,s]: the product gives [r_out, in, s], permuted to the mode-1 rows [in, r_out·s].
    private static float[] ProjectOut(float[] x0, int outDim, int inDim, int spatial, float[] uOut, int rankOut, int dop)
    {
        var z = new float[rankOut * inDim * spatial];
        MatrixOps.GemmCore(uOut, rankOut, outDim, x0, inDim * spatial, z, transA: true, transB: false, dop);
        return Permute(z, rankOut, inDim, spatial);
    }

    // G[a, b, s] = Σ_i Z1[i,a,s] U_in[i,b] and ‖G‖² (double accumulation).
    private static (float[] Core, double Kept) Core(float[] z1, int inDim, int rankOut, int spatial, float[] uIn, int rankIn, int dop)
    {
        var c = new float[rankIn * rankOut * spatial];
        MatrixOps.GemmCore(uIn, rankIn, inDim, z1, rankOut * spatial, c, transA: true, transB: false, dop); // [r_in, r_out, s]
        return (Permute(c, rankIn, rankOut, spatial), SumSquares(c));
    }

    private static double ErrorFromEnergy(double norm2, double kept) => norm2 <= 0 ? 0 : Math.Sqrt(Math.Max(0, norm2 - kept) / norm2);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double DirectError(float[] x0, double norm2, int outDim, int inDim, int spatial, float[] uOut, int rankOut, float[] uIn, int rankIn, float[] core, int dop)
    {
        if (norm2 <= 0)
        {
            return 0;
        }

        var approx = Reconstruct(outDim, inDim, spatial, uOut, rankOut, uIn, rankIn, core, dop);
        var sum = Vector256<double>.Zero;
        var j = 0;
        for (; j + 8 <= x0.Length; j += 8)
        {
            var (lo, hi) = Vector256.Widen(Vector256.Create<float>(x0.AsSpan(j, 8)) - Vector256.Create<float>(approx.AsSpan(j, 8)));
            sum = Vector256.MultiplyAddEstimate(lo, lo, sum);
            sum = Vector256.MultiplyAddEstimate(hi, hi, sum);
        }

        var total = Vector256.Sum(sum);
        for (; j < x0.Length; j++)
        {
            var d = (double)x0[j] - approx[j];
            total += d * d;
        }

        return Math.Sqrt(total / norm2);
    }

    private static double SumSquares(float[] x) => Dot(x, x);

    // Σ x·y widened to double before multiplying: float accumulation over millions of terms would lose digits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Dot(float[] x, float[] y)
    {
        var sum = Vector256<double>.Zero;
        var j = 0;
        for (; j + 8 <= x.Length; j += 8)
        {
            var (xl, xh) = Vector256.Widen(Vector256.Create<float>(x.AsSpan(j, 8)));
            var (yl, yh) = Vector256.Widen(Vector256.Create<float>(y.AsSpan(j, 8)));
            sum = Vector256.MultiplyAddEstimate(xl, yl, sum);
            sum = Vector256.MultiplyAddEstimate(xh, yh, sum);
        }

        var total = Vector256.Sum(sum);
        for (; j < x.Length; j++)
        {
            total += (double)x[j] * y[j];
        }

        return total;
    }
}
