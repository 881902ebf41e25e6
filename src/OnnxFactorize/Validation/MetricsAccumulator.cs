namespace OnnxFactorize.Validation;

/// <summary>Accumulates the accuracy metrics of one output over many samples (a = reference, b = candidate).</summary>
public sealed class MetricsAccumulator
{
    private readonly string _name;
    private readonly OutputTask _task;
    private IReadOnlyList<long>? _shape;
    private long _count;
    private long _finite;
    private long _nonFiniteA;
    private long _nonFiniteB;
    private double _maxAbs;
    private double _sumAbs;
    private double _sumDiff2;
    private double _sumA2;
    private double _sumB2;
    private double _dot;
    private bool _classScores = true;
    private long _rows;
    private long _agree;
    private long _labeledRows;
    private long _correctA;
    private long _correctB;

    /// <summary>Creates an accumulator for the named output; <paramref name="task"/> decides which shapes are class scores.</summary>
    public MetricsAccumulator(string name, OutputTask task = OutputTask.Auto)
    {
        _name = name;
        _task = task;
    }

    /// <summary>Number of class-score rows a sample of this shape has: 0 when it is not class scores under <paramref name="task"/>
    /// (auto: [classes] or [N, classes] with every dim between the first and the last equal to 1, classes ≥ 2).</summary>
    public static long ScoreRows(IReadOnlyList<long> shape, long elementCount, OutputTask task = OutputTask.Auto)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (task == OutputTask.Other || shape.Count == 0 || shape[^1] < 2)
        {
            return 0;
        }

        // A segmentation map [N, C, H, W] or a sequence [N, T, C] is not one score vector per row: auto leaves it alone.
        var classVector = shape.Count <= 2 || shape.Skip(1).Take(shape.Count - 2).All(d => d == 1);
        return task == OutputTask.Classify || classVector ? elementCount / shape[^1] : 0;
    }

    /// <summary>Adds one sample's pair of outputs, with optional labels (one per score row).</summary>
    public void Add(IReadOnlyList<long> shape, ReadOnlySpan<double> a, ReadOnlySpan<double> b, bool floatingPoint, ReadOnlySpan<long> labels = default)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (a.Length != b.Length)
        {
            throw new OnnxFactorizeException($"Output '{_name}': the models produce {a.Length} and {b.Length} elements; the shapes differ.");
        }

        _shape ??= shape;
        _count += a.Length;
        for (var i = 0; i < a.Length; i++)
        {
            var x = a[i];
            var y = b[i];
            if (!double.IsFinite(x) || !double.IsFinite(y))
            {
                _nonFiniteA += double.IsFinite(x) ? 0 : 1;
                _nonFiniteB += double.IsFinite(y) ? 0 : 1;
                continue;
            }

            var d = Math.Abs(x - y);
            _finite++;
            _maxAbs = Math.Max(_maxAbs, d);
            _sumAbs += d;
            _sumDiff2 += d * d;
            _sumA2 += x * x;
            _sumB2 += y * y;
            _dot += x * y;
        }

        var rows = ScoreRows(shape, a.Length, _task);
        _classScores &= floatingPoint && rows > 0;
        if (!_classScores)
        {
            return;
        }

        var width = (int)shape[^1];
        for (var r = 0; r < rows; r++)
        {
            var ia = ArgMax(a.Slice(r * width, width));
            var ib = ArgMax(b.Slice(r * width, width));
            _rows++;
            _agree += ia == ib ? 1 : 0;
            if (!labels.IsEmpty)
            {
                _labeledRows++;
                _correctA += ia == labels[r] ? 1 : 0;
                _correctB += ib == labels[r] ? 1 : 0;
            }
        }
    }

    /// <summary>The aggregated metrics.</summary>
    public OutputMetrics ToMetrics()
    {
        var normA = Math.Sqrt(_sumA2);
        var normB = Math.Sqrt(_sumB2);
        var rel = normA > 0 ? Math.Sqrt(_sumDiff2) / normA : _sumDiff2 == 0 ? 0 : double.PositiveInfinity;
        var cos = normA > 0 && normB > 0 ? _dot / (normA * normB) : normA == 0 && normB == 0 ? 1 : 0;
        return new OutputMetrics
        {
            Name = _name,
            Shape = _shape ?? [],
            ElementCount = _count,
            MaxAbsError = _maxAbs,
            MeanAbsError = _finite > 0 ? _sumAbs / _finite : 0,
            RelL2Error = rel,
            Cosine = Math.Clamp(cos, -1, 1),
            NonFiniteOriginal = _nonFiniteA,
            NonFiniteOptimized = _nonFiniteB,
            Classification = _classScores && _rows > 0
                ? new ClassificationMetrics
                {
                    Rows = _rows,
                    Top1Agreement = (double)_agree / _rows,
                    OriginalAccuracy = _labeledRows > 0 ? (double)_correctA / _labeledRows : null,
                    OptimizedAccuracy = _labeledRows > 0 ? (double)_correctB / _labeledRows : null,
                }
                : null,
        };
    }

    // First index of the largest finite value; NaN never wins.
    private static int ArgMax(ReadOnlySpan<double> row)
    {
        var best = -1;
        for (var i = 0; i < row.Length; i++)
        {
            if (!double.IsNaN(row[i]) && (best < 0 || row[i] > row[best]))
            {
                best = i;
            }
        }

        return best;
    }
}
