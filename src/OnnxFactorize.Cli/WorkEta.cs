using System.Diagnostics;
using System.Globalization;

namespace OnnxFactorize.Cli;

/// <summary>Time left in a phase, from the work done so far rather than the count of items: each finished item is a sample
/// (its work units, its duration), and the time per item is fitted as a·units + b (least squares, a, b ≥ 0), so a run whose
/// first nodes are small does not promise the big ones will be as quick, and per-item overhead (model runs that cost the
/// same for every node) is not scaled by weight size.</summary>
internal sealed class WorkEta
{
    private readonly Func<TimeSpan> _clock;
    private readonly TimeSpan _start;
    private double _suu, _suk, _skk, _sus, _sks;
    private int _samples;
    private int _lastDone;
    private double _lastWork;
    private TimeSpan _lastBoundary;

    /// <summary>Starts timing now; <paramref name="clock"/> (elapsed time) is injectable for tests.</summary>
    public WorkEta(Func<TimeSpan>? clock = null)
    {
        if (clock is null)
        {
            var watch = Stopwatch.StartNew();
            clock = () => watch.Elapsed;
        }

        _clock = clock;
        _start = _clock();
        _lastBoundary = _start;
    }

    /// <summary>Items done and in all, work units done and in all (0 total: every item counts as one unit).</summary>
    public (int Done, int Total, double WorkDone, double WorkTotal) Last { get; private set; }

    /// <summary>Time since the phase started.</summary>
    public TimeSpan Elapsed => _clock() - _start;

    /// <summary>The fraction of the work done, in [0, 1].</summary>
    public double Fraction => Last.WorkTotal > 0 ? Math.Clamp(Last.WorkDone / Last.WorkTotal, 0, 1) : Last.Total > 0 ? Math.Clamp((double)Last.Done / Last.Total, 0, 1) : 0;

    /// <summary>Records a progress report; items finished since the last report become one sample.</summary>
    public void Update(int done, int total, double workDone, double workTotal)
    {
        if (workTotal <= 0)
        {
            (workDone, workTotal) = (done, total);
        }

        var now = _clock();
        if (done > _lastDone)
        {
            // Between two item boundaries the work done is exactly the finished items' units.
            var k = done - _lastDone;
            var u = Math.Max(0, workDone - _lastWork);
            var s = (now - _lastBoundary).TotalSeconds;
            _suu += u * u;
            _suk += u * k;
            _skk += (double)k * k;
            _sus += u * s;
            _sks += k * s;
            _samples++;
            (_lastDone, _lastWork, _lastBoundary) = (done, workDone, now);
        }

        Last = (done, total, workDone, workTotal);
    }

    /// <summary>Estimated time left, or null until two items have finished.</summary>
    public TimeSpan? Remaining
    {
        get
        {
            var (done, total, workDone, workTotal) = Last;
            if (done >= total && total > 0)
            {
                return TimeSpan.Zero;
            }

            var unitsLeft = Math.Max(0, workTotal - workDone);
            var itemsLeft = Math.Max(0, total - done);
            if (_samples < 2)
            {
                // One finished item cannot tell per-item overhead (start-up, model runs) from per-unit cost: a tiny first
                // node that took a second would promise hours. Wait for a second one.
                return null;
            }

            var (a, b) = Fit();
            return Seconds((a * unitsLeft) + (b * itemsLeft));
        }
    }

    // Least squares for seconds ≈ a·units + b·items over the finished samples, with a, b ≥ 0. When units and items are
    // proportional (every item the same size) the two cannot be told apart: time per unit alone is the answer.
    private (double A, double B) Fit()
    {
        var det = (_suu * _skk) - (_suk * _suk);
        if (det > 1e-9 * _suu * _skk)
        {
            var a = ((_sus * _skk) - (_sks * _suk)) / det;
            var b = ((_suu * _sks) - (_suk * _sus)) / det;
            if (a >= 0 && b >= 0)
            {
                return (a, b);
            }

            if (a < 0)
            {
                return (0, _sks / _skk);
            }
        }

        return _suu > 0 ? (_sus / _suu, 0) : (0, _sks / Math.Max(_skk, 1));
    }

    private static TimeSpan Seconds(double seconds) => TimeSpan.FromSeconds(Math.Clamp(seconds, 0, TimeSpan.MaxValue.TotalSeconds / 2));

    /// <summary>A short duration: "45s", "3m05s", "1h02m".</summary>
    public static string Format(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}h{t.Minutes:00}m")
        : t.TotalMinutes >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalMinutes}m{t.Seconds:00}s")
            : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (int)Math.Ceiling(t.TotalSeconds))}s");

    /// <summary>"ETA 3m05s", or "ETA –" while there is nothing to go on.</summary>
    public string Describe() => Remaining is { } left ? $"ETA {Format(left)}" : "ETA –";
}
