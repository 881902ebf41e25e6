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
    /// maxPasses = 1 gives a cheap well-conditioned basis (for power iterations); more passes give orthonormality.</summary>
    public static float[] Orthonormalize(float[] y, int m, int l, Random rng, int maxPasses, int dop)
    {
        var q = y;
        var gram = new float[l * l];
        var transform = new float[l * l];
        for (var pass = 0; pass < maxPasses; pass++)
        {
            MatrixOps.GemmCore(q, l, m, q, l, gram, transA: true, transB: false, dop);
            var (deviation, dependent) = Factor(gram, l, transform);
            var next = new float[m * l];
            MatrixOps.GemmCore(q, m, l, transform, l, next, transA: false, transB: false, dop);
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

    // Cholesky of the column-scaled Gram D⁻¹GD⁻¹ = RᵀR with deflation; writes D⁻¹R⁻¹ to transform so that Q = Y·transform.
    // Returns the largest off-diagonal |entry| of the scaled Gram and the dependent columns.
    private static (double Deviation, List<int> Dependent) Factor(float[] gram, int l, float[] transform)
    {
        var norms = new double[l];
        for (var j = 0; j < l; j++)
        {
            norms[j] = Math.Sqrt(Math.Max(gram[j * l + j], 0f));
        }

        var deviation = 0.0;
        var r = new double[l * l];
        var dependent = new List<int>();
        var isDependent = new bool[l];
        for (var j = 0; j < l; j++)
        {
            if (norms[j] == 0 || !double.IsFinite(norms[j]))
            {
                isDependent[j] = true;
                dependent.Add(j);
                r[j * l + j] = 1.0;
                continue;
            }

            var sum = 0.0;
            for (var i = 0; i < j; i++)
            {
                if (isDependent[i])
                {
                    continue;
                }

                var gij = norms[i] == 0 ? 0.0 : gram[i * l + j] / (norms[i] * norms[j]);
                deviation = Math.Max(deviation, Math.Abs(gij));
                var acc = gij;
                for (var p = 0; p < i; p++)
                {
                    acc -= r[p * l + i] * r[p * l + j];
                }

                var rij = acc / r[i * l + i];
                r[i * l + j] = rij;
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
                    r[i * l + j] = 0.0;
                }

                r[j * l + j] = 1.0;
            }
            else
            {
                r[j * l + j] = Math.Sqrt(dj);
            }
        }

        // transform = D⁻¹ R⁻¹; R is upper triangular, so R⁻¹ is too (back substitution column by column).
        var inv = new double[l * l];
        for (var j = 0; j < l; j++)
        {
            inv[j * l + j] = 1.0 / r[j * l + j];
            for (var i = j - 1; i >= 0; i--)
            {
                var acc = 0.0;
                for (var p = i + 1; p <= j; p++)
                {
                    acc += r[i * l + p] * inv[p * l + j];
                }

                inv[i * l + j] = -acc / r[i * l + i];
            }
        }

        for (var i = 0; i < l; i++)
        {
            var scale = norms[i] == 0 ? 1.0 : 1.0 / norms[i];
            for (var j = 0; j < l; j++)
            {
                transform[i * l + j] = (float)(inv[i * l + j] * scale);
            }
        }

        return (deviation, dependent);
    }

    /// <summary>Standard normal sample (Box–Muller), deterministic for a seeded Random.</summary>
    public static double Gaussian(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
