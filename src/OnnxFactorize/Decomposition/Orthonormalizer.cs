using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace OnnxFactorize.Decomposition;

/// <summary>Orthonormalizes the columns of a tall row-major m×l float matrix with Cholesky QR passes (CholQR2,
/// Fukaya et al. 2014): each pass is two GEMMs, so it runs at GEMM speed instead of Householder's level-2 speed.
/// Columns that are numerically dependent on earlier ones are replaced by random directions, so the result always has
/// l orthonormal columns even for rank-deficient input.</summary>
internal static class Orthonormalizer
{
    // A column whose part orthogonal to the earlier ones is below this fraction of its squared norm is treated as
    // dependent; float32 Gram entries carry relative errors near 1e-6, so anything smaller is noise.
    private const double DependenceTolerance = 1e-5;

    // A pass whose input Gram is this close to the identity leaves columns orthonormal to float precision.
    private const double ConvergedDeviation = 1e-3;

    /// <summary>Returns an m×l matrix with orthonormal columns spanning (as far as numerically possible) the columns of y.
    /// maxPasses = 1 gives a cheap well-conditioned basis (for power iterations); more passes give orthonormality.
    /// When r (l×l) is given it receives the upper-triangular factor with y ≈ Q·r. When companion (rows×l) is given, the
    /// same column transform is applied to it (so if companion = Mᵀy then afterwards companion = MᵀQ, without a product
    /// with M); that stays exact unless a dependent column was replaced, in which case the method returns false in
    /// companionExact.</summary>
    public static float[] Orthonormalize(float[] y, int m, int l, Random rng, int maxPasses, int dop, double[]? r = null) =>
        Orthonormalize(y, m, l, rng, maxPasses, dop, r, null, 0, out _);

    /// <summary>As the other overload, also transforming a companion matrix (see above).</summary>
    public static float[] Orthonormalize(float[] y, int m, int l, Random rng, int maxPasses, int dop, double[]? r, float[]? companion, int companionRows, out bool companionExact)
    {
        companionExact = true;
        var companionNext = companion is null ? null : new float[companionRows * l];
        if (r is not null)
        {
            Array.Clear(r, 0, l * l);
            for (var i = 0; i < l; i++)
            {
                r[i * l + i] = 1.0;
            }
        }

        var passFactor = new double[l * l];
        var q = y;
        var gram = new float[l * l];
        var transform = new float[l * l];
        for (var pass = 0; pass < maxPasses; pass++)
        {
            MatrixOps.GemmCore(q, l, m, q, l, gram, transA: true, transB: false, dop);
            var (deviation, dependent) = Factor(gram, l, transform, passFactor);
            if (r is not null)
            {
                Accumulate(passFactor, r, l);
            }

            var next = new float[m * l];
            MatrixOps.GemmCore(q, m, l, transform, l, next, transA: false, transB: false, dop);
            if (companion is not null && companionNext is not null)
            {
                MatrixOps.GemmCore(companion, companionRows, l, transform, l, companionNext, transA: false, transB: false, dop);
                Array.Copy(companionNext, companion, companionRows * l);
                companionExact &= dependent.Count == 0;
            }

            foreach (var j in dependent)
            {
                var scale = 1.0 / Math.Sqrt(m);
                for (var i = 0; i < m; i++)
                {
                    next[i * l + j] = (float)(Gaussian(rng) * scale);
                }
            }

            q = next;
            if (deviation < ConvergedDeviation && dependent.Count == 0)
            {
                break;
            }
        }

        return q;
    }

    /// <summary>One CholQR factorization without applying it: fills transform (l×l, float) with the T for which y·T has
    /// orthonormal columns and r (l×l, double, upper triangular) with y ≈ (y·T)·r. False when a column is numerically
    /// dependent on earlier ones (the caller then needs Orthonormalize, which replaces it).</summary>
    public static bool TryFactor(float[] y, int m, int l, int dop, float[] transform, double[] r)
    {
        var gram = new float[l * l];
        MatrixOps.GemmCore(y, l, m, y, l, gram, transA: true, transB: false, dop);
        var (_, dependent) = Factor(gram, l, transform, r);
        return dependent.Count == 0;
    }

    // r ← pass·r for upper-triangular l×l matrices.
    private static void Accumulate(double[] pass, double[] r, int l)
    {
        var product = new double[l * l];
        for (var i = 0; i < l; i++)
        {
            for (var p = i; p < l; p++)
            {
                var x = pass[i * l + p];
                if (x == 0)
                {
                    continue;
                }

                for (var j = p; j < l; j++)
                {
                    product[i * l + j] += x * r[p * l + j];
                }
            }
        }

        Array.Copy(product, r, l * l);
    }

    // Cholesky of the column-scaled Gram D⁻¹GD⁻¹ = RᵀR with deflation; writes D⁻¹R⁻¹ to transform so that Q = Y·transform,
    // and R·D to factor so that Y ≈ Q·factor (a dependent column keeps its projections and gets a zero diagonal).
    // Returns the largest off-diagonal |entry| of the scaled Gram and the dependent columns.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double Deviation, List<int> Dependent) Factor(float[] gram, int l, float[] transform, double[] factor)
    {
        Array.Clear(factor, 0, l * l);
        var norms = new double[l];
        for (var j = 0; j < l; j++)
        {
            norms[j] = Math.Sqrt(Math.Max(gram[j * l + j], 0f));
        }

        var deviation = 0.0;
        var rt = new double[l * l];
        var dependent = new List<int>();
        var isDependent = new bool[l];
        for (var j = 0; j < l; j++)
        {
            if (norms[j] == 0 || !double.IsFinite(norms[j]))
            {
                isDependent[j] = true;
                dependent.Add(j);
                rt[j * l + j] = 1.0;
                continue;
            }

            // rt holds Rᵀ (row j = column j of R) so the inner products run over contiguous memory.
            var sum = 0.0;
            var rowJ = rt.AsSpan(j * l, l);
            for (var i = 0; i < j; i++)
            {
                if (isDependent[i])
                {
                    continue;
                }

                var gij = gram[i * l + j] / (norms[i] * norms[j]);
                deviation = Math.Max(deviation, Math.Abs(gij));
                var rij = (gij - MatrixOps.Dot(rt.AsSpan(i * l, i), rowJ[..i])) / rt[i * l + i];
                rowJ[i] = rij;
                sum += rij * rij;
            }

            var dj = 1.0 - sum;
            if (dj < DependenceTolerance)
            {
                // Identity column: Y·transform keeps y_j, which the caller overwrites with a random direction.
                isDependent[j] = true;
                dependent.Add(j);
                for (var i = 0; i < j; i++)
                {
                    factor[i * l + j] = rowJ[i] * norms[j];
                    rowJ[i] = 0.0;
                }

                rowJ[j] = 1.0;
            }
            else
            {
                rowJ[j] = Math.Sqrt(dj);
                for (var i = 0; i <= j; i++)
                {
                    factor[i * l + j] = rowJ[i] * norms[j];
                }
            }
        }

        // transform = D⁻¹ R⁻¹; R⁻¹ is upper triangular, built column by column (row j of invT = column j of R⁻¹) by back
        // substitution in axpy form: once R⁻¹[p,j] is final, column p of R (row p of rt, contiguous) updates the rows above.
        var invT = new double[l * l];
        var acc = new double[l];
        for (var j = 0; j < l; j++)
        {
            var col = invT.AsSpan(j * l, l);
            Array.Clear(acc, 0, j + 1);
            for (var p = j; p >= 0; p--)
            {
                var x = ((p == j ? 1.0 : 0.0) - acc[p]) / rt[p * l + p];
                col[p] = x;
                if (x != 0 && p > 0)
                {
                    MatrixOps.Axpy(x, rt.AsSpan(p * l, p), acc.AsSpan(0, p));
                }
            }
        }

        for (var i = 0; i < l; i++)
        {
            var scale = norms[i] == 0 ? 1.0 : 1.0 / norms[i];
            for (var j = 0; j < l; j++)
            {
                transform[i * l + j] = (float)(invT[j * l + i] * scale);
            }
        }

        return (deviation, dependent);
    }

    // Chunk of the parallel Gaussian fill; fixed, so the samples do not depend on the number of workers.
    private const int GaussianChunk = 1 << 16;

    /// <summary>Fills values with standard normal samples in parallel: each fixed-size chunk has its own SplitMix64
    /// stream seeded from rng in order, so the result depends only on rng's state, not on the degree of parallelism.
    /// Box–Muller runs vectorized in float (TensorPrimitives), which is ample for a random sketch.</summary>
    public static void FillGaussianParallel(float[] values, Random rng, int dop)
    {
        var chunks = (values.Length + GaussianChunk - 1) / GaussianChunk;
        var seeds = new long[chunks];
        for (var c = 0; c < chunks; c++)
        {
            seeds[c] = rng.NextInt64();
        }

        var options = new ParallelOptions { MaxDegreeOfParallelism = Parallelism.Resolve(dop) };
        Parallel.For(0, chunks, options, c =>
        {
            var start = c * GaussianChunk;
            FillGaussianChunk(values.AsSpan(start, Math.Min(GaussianChunk, values.Length - start)), (ulong)seeds[c]);
        });
    }

    // Box–Muller on (0,1] uniforms: the first half of the chunk gets r·cos θ, the second half r·sin θ of the same pairs.
    private static void FillGaussianChunk(Span<float> values, ulong state)
    {
        var pairs = (values.Length + 1) / 2;
        var u1 = new float[pairs];
        var u2 = new float[pairs];
        for (var i = 0; i < pairs; i++)
        {
            // SplitMix64 (Steele, Lea & Flood 2014); two 24-bit uniforms per output, offset by ½ ulp to avoid 0.
            state += 0x9E3779B97F4A7C15UL;
            var z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            u1[i] = ((z >> 40) + 0.5f) * (1f / (1 << 24));
            u2[i] = (((z >> 16) & 0xFFFFFF) + 0.5f) * (1f / (1 << 24));
        }

        // r = sqrt(-2 ln u1), θ = 2π u2.
        TensorPrimitives.Log(u1, u1);
        TensorPrimitives.Multiply(u1, -2f, u1);
        TensorPrimitives.Sqrt(u1, u1);
        TensorPrimitives.Multiply(u2, 2f, u2);
        var sin = new float[pairs];
        var cos = new float[pairs];
        TensorPrimitives.SinCosPi(u2, sin, cos);
        var half = values.Length / 2;
        TensorPrimitives.Multiply(u1.AsSpan(0, values.Length - half), cos.AsSpan(0, values.Length - half), values[..(values.Length - half)]);
        TensorPrimitives.Multiply(u1.AsSpan(0, half), sin.AsSpan(0, half), values[(values.Length - half)..]);
    }

    /// <summary>Standard normal sample (Box–Muller), deterministic for a seeded Random.</summary>
    public static double Gaussian(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
