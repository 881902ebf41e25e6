using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;

namespace OnnxFactorize.Benchmarks.Aimet;

/// <summary>One entry of AIMET's per-layer eval-score dictionary: the layer alone compressed to a cost ratio.</summary>
/// <param name="Ratio">Fraction of the layer's cost the ratio asks to keep (0.1 … 0.9).</param>
/// <param name="Rank">The rank that ratio maps to: the largest whose factorized cost is at most Ratio × the original.</param>
/// <param name="CostAfter">The layer's cost (FLOPs or parameters) factorized at <paramref name="Rank"/>.</param>
/// <param name="Error">Whole-model budget metric with only this layer compressed (lower is better).</param>
public sealed record AimetEntry(double Ratio, int Rank, long CostAfter, double Error);

/// <summary>One compressible layer of AIMET's dictionary: its original cost and its entries, smallest ratio first (a ratio
/// no rank reaches has no entry).</summary>
public sealed record AimetLayer(string Name, long CostBefore, IReadOnlyList<AimetEntry> Entries);

/// <summary>The outcome of AIMET's threshold search for one target: the threshold, each layer's chosen entry (−1 when
/// left uncompressed) and the overall cost ratio that gives.</summary>
public sealed record AimetSelection(double Threshold, IReadOnlyList<int> Choice, double OverallRatio, int Iterations);

/// <summary>What the AIMET baseline produced: the model, the dictionary it built, its choice, and the work it did.</summary>
public sealed record AimetResult
{
    /// <summary>The compressed model and per-node decisions.</summary>
    public required FactorizationResult Factorization { get; init; }

    /// <summary>The per-layer eval-score dictionary.</summary>
    public required IReadOnlyList<AimetLayer> Layers { get; init; }

    /// <summary>The threshold search that produced the model.</summary>
    public required AimetSelection Selection { get; init; }

    /// <summary>Target overall cost ratio given to the threshold search.</summary>
    public required double TargetRatio { get; init; }

    /// <summary>Measured budget metric of the compressed model.</summary>
    public required double MeasuredError { get; init; }

    /// <summary>Whole-model evaluations AIMET's dictionary costs: one per (layer, ratio).</summary>
    public int DictionaryEvaluations { get; init; }

    /// <summary>Dictionary evaluations actually run (ratios that map to the same rank share one).</summary>
    public int DictionaryEvaluationsRun { get; init; }

    /// <summary>Final whole-model evaluations (one per distinct compressed model tried).</summary>
    public int FinalEvaluations { get; init; }

    /// <summary>Wall time building the dictionary, in seconds.</summary>
    public double DictionarySeconds { get; init; }

    /// <summary>Wall time of the whole run, in seconds.</summary>
    public double Seconds { get; init; }
}

/// <summary>Reference baseline, not a planner to use: AIMET's greedy per-layer compression-ratio selection (Qualcomm AI
/// Model Efficiency Toolkit, "Greedy Compression Ratio Selection"), run on this engine's factorizations and calibration
/// inputs so it can be compared with <see cref="BudgetPlanner"/>. (1) For every candidate layer and every ratio of a
/// fixed list (default 0.1 … 0.9, the fraction of the layer's cost kept) the layer alone is compressed and the whole model
/// evaluated; (2) for a target overall ratio, a threshold on the score is binary-searched: each layer takes the smallest
/// ratio whose error is within the threshold (none: left uncompressed) until the overall ratio is within tolerance of the
/// target; (3) the model is compressed with those ratios and evaluated once (no verification or back-off).</summary>
public static class AimetGreedyBaseline
{
    /// <summary>AIMET's default candidate ratios.</summary>
    public static readonly IReadOnlyList<double> DefaultRatios = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

    /// <summary>AIMET's tolerance on the overall ratio during the threshold search.</summary>
    public const double Tolerance = 0.01;

    /// <summary>Bisection steps before the search settles for the closest ratio at or below the target.</summary>
    public const int MaxIterations = 60;

    /// <summary>Runs the baseline on <paramref name="model"/> with the calibration inputs, metric, cost target (FLOPs or
    /// params) and factorization settings of <paramref name="options"/>. With <paramref name="targetRatio"/> it compresses
    /// to that overall ratio, as AIMET does; without, it binary-searches the target for the most compressed model whose
    /// measured metric stays within the options' budget (one final evaluation per target tried).</summary>
    public static AimetResult Run(OnnxModel model, BudgetOptions options, double? targetRatio = null, IReadOnlyList<double>? ratios = null,
        SvdCache? svdCache = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ratios ??= DefaultRatios;
        if (ratios.Count == 0 || ratios.Any(r => !(r > 0 && r < 1)))
        {
            throw new OnnxFactorizeException($"AIMET ratios must be in (0, 1), got [{string.Join(", ", ratios)}].");
        }

        if (targetRatio is { } t && !(t > 0 && t <= 1))
        {
            throw new OnnxFactorizeException($"AIMET target ratio must be in (0, 1], got {t}.");
        }

        return AimetRunner.Run(model, options, [.. ratios.Order()], targetRatio, svdCache, cancellationToken);
    }

    /// <summary>Each layer's entry for <paramref name="threshold"/>: the smallest ratio whose error is at most the threshold
    /// (AIMET: the smallest ratio whose score is at least it), or −1 when none is.</summary>
    public static int[] Choose(IReadOnlyList<AimetLayer> layers, double threshold)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var choice = new int[layers.Count];
        for (var i = 0; i < layers.Count; i++)
        {
            var entries = layers[i].Entries;
            choice[i] = -1;
            for (var j = 0; j < entries.Count; j++)
            {
                if (entries[j].Error <= threshold)
                {
                    choice[i] = j;
                    break;
                }
            }
        }

        return choice;
    }

    /// <summary>Overall cost after over cost before, summed over the layers (an uncompressed layer keeps its cost).</summary>
    public static double OverallRatio(IReadOnlyList<AimetLayer> layers, IReadOnlyList<int> choice)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(choice);
        double before = 0, after = 0;
        for (var i = 0; i < layers.Count; i++)
        {
            before += layers[i].CostBefore;
            after += choice[i] < 0 ? layers[i].CostBefore : layers[i].Entries[choice[i]].CostAfter;
        }

        return before > 0 ? after / before : 1;
    }

    /// <summary>AIMET's threshold search: bisect the threshold between the smallest and largest error in the dictionary
    /// until the overall ratio is within <see cref="Tolerance"/> of <paramref name="targetRatio"/>. A larger threshold lets
    /// more layers compress further, so a ratio above the target (too little compression) moves the lower bound up.
    /// When bisection cannot land within tolerance (the ratio is a step function of the threshold), the smallest threshold
    /// seen whose ratio meets the target is used, else the largest (most compression available).</summary>
    public static AimetSelection Select(IReadOnlyList<AimetLayer> layers, double targetRatio)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var errors = layers.SelectMany(l => l.Entries).Select(e => e.Error).Where(double.IsFinite).ToList();
        if (errors.Count == 0)
        {
            var none = Enumerable.Repeat(-1, layers.Count).ToArray();
            return new AimetSelection(double.NegativeInfinity, none, 1, 0);
        }

        double lo = errors.Min(), hi = errors.Max();
        (double Threshold, int[] Choice, double Ratio)? meeting = null;
        var iterations = 0;
        while (iterations < MaxIterations)
        {
            iterations++;
            var mid = (lo + hi) / 2;
            var choice = Choose(layers, mid);
            var ratio = OverallRatio(layers, choice);
            if (Math.Abs(ratio - targetRatio) <= Tolerance)
            {
                return new AimetSelection(mid, choice, ratio, iterations);
            }

            if (ratio <= targetRatio && (meeting is null || mid < meeting.Value.Threshold))
            {
                meeting = (mid, choice, ratio);
            }

            if (ratio > targetRatio)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        if (meeting is { } m)
        {
            return new AimetSelection(m.Threshold, m.Choice, m.Ratio, iterations);
        }

        var most = Choose(layers, errors.Max());
        return new AimetSelection(errors.Max(), most, OverallRatio(layers, most), iterations);
    }
}
