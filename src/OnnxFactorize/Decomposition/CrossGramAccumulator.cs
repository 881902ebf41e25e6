namespace OnnxFactorize.Decomposition;

/// <summary>Streaming statistics of paired rows (z_t, y_t) for a least-squares fit y ≈ B·z: Z Zᵀ = Σ z zᵀ (p×p) and
/// Z Yᵀ = Σ z yᵀ (p×q), accumulated in double batch by batch. Not thread-safe.</summary>
internal sealed class CrossGramAccumulator
{
    // Rows per float32 GEMM block; each block's sums are added to double totals. Float rounding (~1e-7 relative) is
    // harmless here: the normal equations carry a ridge, unlike the whitening, which must see exact rank deficiency.
    private const int Block = 256;

    private readonly double[] _zz;
    private readonly double[] _zy;
    private readonly int _maxDegreeOfParallelism;

    /// <summary>An empty accumulator for z of length <paramref name="predictors"/> and y of length <paramref name="targets"/>.</summary>
    public CrossGramAccumulator(int predictors, int targets, int maxDegreeOfParallelism = -1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(predictors, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(targets, 1);
        Predictors = predictors;
        Targets = targets;
        _zz = new double[(long)predictors * predictors];
        _zy = new double[(long)predictors * targets];
        _maxDegreeOfParallelism = maxDegreeOfParallelism;
    }

    /// <summary>Length p of z.</summary>
    public int Predictors { get; }

    /// <summary>Length q of y.</summary>
    public int Targets { get; }

    /// <summary>Row pairs accumulated so far.</summary>
    public long Count { get; private set; }

    /// <summary>Adds count pairs: z as a row-major count×p matrix, y as count×q.</summary>
    public void AddRows(ReadOnlySpan<float> z, ReadOnlySpan<float> y)
    {
        var p = Predictors;
        var q = Targets;
        if (z.Length % p != 0 || y.Length % q != 0 || z.Length / p != y.Length / q)
        {
            throw new ArgumentException($"z ({z.Length} values, rows of {p}) and y ({y.Length} values, rows of {q}) must hold the same whole number of rows.");
        }

        var count = z.Length / p;
        var zzBlock = new float[p * p];
        var zyBlock = new float[p * q];
        for (var start = 0; start < count; start += Block)
        {
            var n = Math.Min(Block, count - start);
            var zb = z.Slice(start * p, n * p).ToArray();
            var yb = y.Slice(start * q, n * q).ToArray();
            MatrixOps.GemmCore(zb, p, n, zb, p, zzBlock, transA: true, transB: false, _maxDegreeOfParallelism);
            MatrixOps.GemmCore(zb, p, n, yb, q, zyBlock, transA: true, transB: false, _maxDegreeOfParallelism);
            for (var i = 0; i < zzBlock.Length; i++)
            {
                _zz[i] += zzBlock[i];
            }

            for (var i = 0; i < zyBlock.Length; i++)
            {
                _zy[i] += zyBlock[i];
            }
        }

        Count += count;
    }

    /// <summary>Σ z zᵀ (p×p row-major), a copy.</summary>
    public double[] ZZ() => (double[])_zz.Clone();

    /// <summary>Σ z yᵀ (p×q row-major), a copy.</summary>
    public double[] ZY() => (double[])_zy.Clone();
}
