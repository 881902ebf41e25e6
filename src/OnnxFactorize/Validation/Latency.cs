using System.Diagnostics;
using System.Globalization;

namespace OnnxFactorize.Validation;

/// <summary>How latency is measured and how sessions are configured; validated once by <see cref="Validate"/>.</summary>
public sealed record LatencyOptions
{
    /// <summary>Untimed runs of each model before measuring.</summary>
    public int WarmupRuns { get; init; } = 3;

    /// <summary>Timed runs of each model, interleaved in pairs of alternating order (A B, B A, …).</summary>
    public int Runs { get; init; } = 20;

    /// <summary>ONNX Runtime intra-op threads; 0 lets ONNX Runtime use all cores.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Execution provider: "cpu" (default) or "cuda".</summary>
    public string ExecutionProvider { get; init; } = "cpu";

    /// <summary>Checks every option once, with messages that name the bad value.</summary>
    public void Validate()
    {
        if (WarmupRuns < 0)
        {
            throw new OnnxFactorizeException($"WarmupRuns is {WarmupRuns}; it must be 0 or more.");
        }

        if (Runs < 1)
        {
            throw new OnnxFactorizeException($"Runs is {Runs}; it must be at least 1.");
        }

        if (IntraOpThreads < 0)
        {
            throw new OnnxFactorizeException($"IntraOpThreads is {IntraOpThreads}; use 0 for all cores or a positive count.");
        }

        if (ExecutionProvider is not ("cpu" or "cuda"))
        {
            throw new OnnxFactorizeException($"Execution provider '{ExecutionProvider}' is not supported; use cpu or cuda.");
        }
    }
}

/// <summary>Latency statistics of one model in milliseconds.</summary>
public sealed record LatencyStats(double MedianMs, double P90Ms, double MinMs);

/// <summary>Latency of both models, measured interleaved in the same process with identical session options.</summary>
public sealed record LatencyResult
{
    /// <summary>Original model statistics.</summary>
    public required LatencyStats Original { get; init; }

    /// <summary>Optimized model statistics.</summary>
    public required LatencyStats Optimized { get; init; }

    /// <summary>Median over pairs of original/optimized time (&gt; 1 means the optimized model is faster).</summary>
    public required double Speedup { get; init; }

    /// <summary>Lower end of the 95 % confidence interval of <see cref="Speedup"/> (distribution-free, from order statistics of the pair ratios).</summary>
    public double SpeedupLow { get; init; } = double.NaN;

    /// <summary>Upper end of the 95 % confidence interval of <see cref="Speedup"/>.</summary>
    public double SpeedupHigh { get; init; } = double.NaN;

    /// <summary>Fewest timed runs for which the sign-test interval reaches 95 % coverage (1 − 2·0.5⁶ ≈ 0.97).</summary>
    public const int MinRunsForInterval = 6;

    /// <summary>Whether the interval excludes 1, i.e. the models' latencies differ beyond run-to-run noise (never with fewer
    /// than <see cref="MinRunsForInterval"/> runs).</summary>
    public bool Significant => Runs >= MinRunsForInterval && (SpeedupLow > 1 || SpeedupHigh < 1);

    /// <summary>One line: "1.42x faster (95 % CI 1.31–1.50)", "0.80x (slower; 95 % CI …)" or "no significant difference (… CI contains 1)".</summary>
    public string Describe()
    {
        var ci = string.Create(CultureInfo.InvariantCulture, $"95 % CI {SpeedupLow:0.00}–{SpeedupHigh:0.00}x over {Runs} interleaved pairs");
        if (Runs < MinRunsForInterval)
        {
            return string.Create(CultureInfo.InvariantCulture, $"not measured reliably (median ratio {Speedup:0.00}x over {Runs} interleaved pair(s); a 95 % interval needs --runs {MinRunsForInterval} or more)");
        }

        return !Significant ? $"no significant difference (median ratio {Speedup.ToString("0.00", CultureInfo.InvariantCulture)}x, {ci} contains 1)"
            : Speedup >= 1 ? $"{Speedup.ToString("0.00", CultureInfo.InvariantCulture)}x faster ({ci})"
            : $"{(1 / Speedup).ToString("0.00", CultureInfo.InvariantCulture)}x slower (speedup {Speedup.ToString("0.00", CultureInfo.InvariantCulture)}x, {ci})";
    }

    /// <summary>Timed runs per model.</summary>
    public required int Runs { get; init; }

    /// <summary>Warm-up runs per model.</summary>
    public required int WarmupRuns { get; init; }

    /// <summary>Intra-op threads (0 = ONNX Runtime default, all cores).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Execution provider used.</summary>
    public string ExecutionProvider { get; init; } = "cpu";
}

/// <summary>Interleaved A/B timing: warm-up, then pairs in alternating order (A B, B A, …) so drift (thermal, other load)
/// and position in the pair hit both models alike.</summary>
public static class LatencyBenchmark
{
    /// <summary>Times the two runs interleaved and summarizes them; speedup is the median of per-pair ratios.</summary>
    public static LatencyResult Measure(Action runOriginal, Action runOptimized, LatencyOptions options,
        IProgress<ValidationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runOriginal);
        ArgumentNullException.ThrowIfNull(runOptimized);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        for (var i = 0; i < options.WarmupRuns; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            runOriginal();
            runOptimized();
        }

        var a = new double[options.Runs];
        var b = new double[options.Runs];
        for (var i = 0; i < options.Runs; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new ValidationProgress("latency", i, options.Runs));

            // A B, B A, A B …: the model that runs second in a pair finds warmer caches, so the order alternates rather
            // than always favouring one model (an unchanged model measured 1.24x "faster" with A always first).
            if (i % 2 == 0)
            {
                a[i] = Time(runOriginal);
                b[i] = Time(runOptimized);
            }
            else
            {
                b[i] = Time(runOptimized);
                a[i] = Time(runOriginal);
            }
        }

        progress?.Report(new ValidationProgress("latency", options.Runs, options.Runs));
        var ratios = a.Zip(b, (x, y) => x / Math.Max(y, 1e-9)).ToArray();
        var (low, high) = MedianInterval(ratios);
        return new LatencyResult
        {
            Original = Summarize(a),
            Optimized = Summarize(b),
            Speedup = Median(ratios),
            SpeedupLow = low,
            SpeedupHigh = high,
            Runs = options.Runs,
            WarmupRuns = options.WarmupRuns,
            IntraOpThreads = options.IntraOpThreads,
            ExecutionProvider = options.ExecutionProvider,
        };
    }

    /// <summary>Median, 90th percentile (nearest rank) and minimum of the samples.</summary>
    public static LatencyStats Summarize(IReadOnlyList<double> samplesMs)
    {
        ArgumentNullException.ThrowIfNull(samplesMs);
        var sorted = samplesMs.Order().ToArray();
        return new LatencyStats(Median(sorted), Percentile(sorted, 0.9), sorted[0]);
    }

    /// <summary>Distribution-free 95 % confidence interval of the median: order statistics x₍k₎ and x₍n+1−k₎ with the largest
    /// k such that P(Binomial(n, ½) &lt; k) ≤ 0.025 (the sign-test interval); the whole range when n is below 6.</summary>
    public static (double Low, double High) MedianInterval(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var s = values.Order().ToArray();
        var n = s.Length;
        if (n == 0)
        {
            return (double.NaN, double.NaN);
        }

        if (n > 500)
        {
            // Normal approximation of the binomial; 0.5ⁿ would underflow.
            var kn = Math.Max(1, (int)Math.Floor((n - (1.96 * Math.Sqrt(n))) / 2));
            return (s[kn - 1], s[n - kn]);
        }

        // Cumulative binomial(n, 1/2) probabilities, exact in doubles for the run counts used here.
        var k = 0;
        var cumulative = 0.0;
        var term = Math.Pow(0.5, n);
        for (var j = 0; j < n; j++)
        {
            cumulative += term;
            if (cumulative > 0.025)
            {
                break;
            }

            k = j + 1;
            term *= (double)(n - j) / (j + 1);
        }

        k = Math.Max(k, 1);
        return (s[k - 1], s[n - k]);
    }

    /// <summary>Median (mean of the two middle values for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var s = values.Order().ToArray();
        var mid = s.Length / 2;
        return s.Length % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
    }

    /// <summary>Nearest-rank percentile: the smallest value with at least p of the samples at or below it.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        ArgumentNullException.ThrowIfNull(values);
        var s = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p * s.Length);
        return s[Math.Clamp(rank - 1, 0, s.Length - 1)];
    }

    private static double Time(Action run)
    {
        var start = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}

/// <summary>Progress of a validation: <paramref name="Phase"/> is "accuracy" (samples run on both models) or "latency"
/// (interleaved timing runs).</summary>
public readonly record struct ValidationProgress(string Phase, int Done, int Total);
