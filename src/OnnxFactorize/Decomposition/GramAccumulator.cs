namespace OnnxFactorize.Decomposition;

/// <summary>Streaming second-order statistics of d-dimensional row vectors: the Gram matrix Σ x xᵀ, the sum Σ x and the
/// count, accumulated in double batch by batch, so memory does not grow with the number of rows seen. Not thread-safe.</summary>
internal sealed class GramAccumulator
{
    // Rows per block. Products are summed in double (MatrixOps.GramRowsDouble on the transposed block): a float32 GEMM
    // would be faster, but its rounding (~1e-7 relative per entry) lifts the zero eigenvalues of a rank-deficient Gram to
    // ~1e-7·λ_max, hiding the deficiency the whitening has to detect.
    private const int Block = 1024;

    private readonly double[] _gram;
    private readonly double[] _sum;
    private readonly int _maxDegreeOfParallelism;
    private float[] _block = [];

    /// <summary>An empty accumulator for vectors of length <paramref name="dimension"/>.</summary>
    public GramAccumulator(int dimension, int maxDegreeOfParallelism = -1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Dimension = dimension;
        _gram = new double[(long)dimension * dimension];
        _sum = new double[dimension];
        _maxDegreeOfParallelism = maxDegreeOfParallelism;
    }

    /// <summary>Vector length d.</summary>
    public int Dimension { get; }

    /// <summary>Rows accumulated so far.</summary>
    public long Count { get; private set; }

    /// <summary>Adds the rows of a row-major count×d matrix (its length must be a multiple of d).</summary>
    public void AddRows(ReadOnlySpan<float> rows)
    {
        var d = Dimension;
        if (rows.Length % d != 0)
        {
            throw new ArgumentException($"{rows.Length} values are not a whole number of rows of length {d}.", nameof(rows));
        }

        var count = rows.Length / d;
        for (var start = 0; start < count; start += Block)
        {
            var n = Math.Min(Block, count - start);
            if (_block.Length < n * d)
            {
                _block = new float[n * d];
            }

            var block = rows.Slice(start * d, n * d);
            MatrixOps.Transpose(block, n, d, _block);
            for (var i = 0; i < n; i++)
            {
                var row = block.Slice(i * d, d);
                for (var j = 0; j < d; j++)
                {
                    _sum[j] += row[j];
                }
            }

            // Block of XᵀX as the row Gram of the transposed block (d×n).
            var product = MatrixOps.GramRowsDouble(_block, d, n, _maxDegreeOfParallelism);
            for (var i = 0; i < product.Length; i++)
            {
                _gram[i] += product[i];
            }
        }

        Count += count;
    }

    /// <summary>Adds another accumulator's totals (same dimension).</summary>
    public void Add(GramAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Dimension != Dimension)
        {
            throw new ArgumentException($"cannot merge statistics of dimension {other.Dimension} into {Dimension}.", nameof(other));
        }

        for (var i = 0; i < _gram.Length; i++)
        {
            _gram[i] += other._gram[i];
        }

        for (var i = 0; i < _sum.Length; i++)
        {
            _sum[i] += other._sum[i];
        }

        Count += other.Count;
    }

    /// <summary>Σ x xᵀ (d×d row-major, symmetric), a copy.</summary>
    public double[] Gram() => Symmetrized(_gram, Dimension);

    /// <summary>Σ x (length d), a copy.</summary>
    public double[] Sum() => (double[])_sum.Clone();

    /// <summary>The mean μ = Σ x / count (zeros when nothing was added).</summary>
    public double[] Mean() => Count == 0 ? new double[Dimension] : Array.ConvertAll(_sum, s => s / Count);

    /// <summary>The centered Gram Σ (x − μ)(x − μ)ᵀ = Σ x xᵀ − count·μμᵀ (same scale as <see cref="Gram"/>, not divided by the count).</summary>
    public double[] CenteredGram()
    {
        var g = Gram();
        if (Count == 0)
        {
            return g;
        }

        var d = Dimension;
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < d; j++)
            {
                g[i * d + j] -= _sum[i] * _sum[j] / Count;
            }

            // A variance is ≥ 0; a constant input (e.g. a patch tap that only ever reads padding) can come out at −1e-16.
            g[i * d + i] = Math.Max(g[i * d + i], 0);
        }

        return g;
    }

    /// <summary>Restores an accumulator from stored totals (e.g. a statistics cache).</summary>
    public static GramAccumulator FromTotals(int dimension, long count, ReadOnlySpan<double> gram, ReadOnlySpan<double> sum)
    {
        var a = new GramAccumulator(dimension);
        if (gram.Length != a._gram.Length || sum.Length != dimension || count < 0)
        {
            throw new ArgumentException($"stored statistics do not fit dimension {dimension}: gram {gram.Length}, sum {sum.Length}, count {count}.");
        }

        gram.CopyTo(a._gram);
        sum.CopyTo(a._sum);
        a.Count = count;
        return a;
    }

    private static double[] Symmetrized(double[] g, int d)
    {
        var s = new double[g.Length];
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < d; j++)
            {
                s[i * d + j] = 0.5 * (g[i * d + j] + g[j * d + i]);
            }
        }

        return s;
    }
}
