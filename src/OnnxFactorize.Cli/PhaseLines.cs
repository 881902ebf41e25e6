using System.Globalization;

namespace OnnxFactorize.Cli;

/// <summary>Progress for redirected output (CI logs): a line per phase now and then, with counts, the share of the work
/// done and an ETA from <see cref="WorkEta"/>: when each quarter of the work is passed, at least every
/// <see cref="Interval"/> during a long phase, and once when the phase finishes.</summary>
internal sealed class PhaseLines(Action<string> write, Func<TimeSpan>? clock = null)
{
    private readonly Dictionary<string, Phase> _phases = new(StringComparer.Ordinal);

    /// <summary>Longest time between two lines of one running phase.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(15);

    private sealed class Phase(WorkEta eta, TimeSpan lastLine)
    {
        public WorkEta Eta { get; } = eta;

        public TimeSpan LastLine { get; set; } = lastLine;

        public int Quarter { get; set; }

        public bool Finished { get; set; }
    }

    /// <summary>The ETA of the phase <paramref name="name"/>, created on first use.</summary>
    public WorkEta EtaOf(string name) => Get(name).Eta;

    /// <summary>Records progress of phase <paramref name="name"/> (<paramref name="done"/> of <paramref name="total"/>
    /// <paramref name="unit"/>) and writes a line when one is due.</summary>
    public void Report(string name, int done, int total, double workDone, double workTotal, string unit)
    {
        var phase = Get(name);
        if (phase.Finished && done < total)
        {
            // The phase runs again (another planning round): start afresh.
            _phases.Remove(name);
            phase = Get(name);
        }

        if (phase.Finished)
        {
            return;
        }

        phase.Eta.Update(done, total, workDone, workTotal);
        var eta = phase.Eta;
        if (total > 0 && done >= total)
        {
            phase.Finished = true;
            write(string.Create(CultureInfo.InvariantCulture, $"{name}: {total}/{total} {unit} done in {WorkEta.Format(eta.Elapsed)}"));
            return;
        }

        var quarter = (int)Math.Floor(eta.Fraction * 4);
        var now = eta.Elapsed;
        if (quarter <= phase.Quarter && now - phase.LastLine < Interval)
        {
            return;
        }

        phase.Quarter = Math.Max(phase.Quarter, quarter);
        phase.LastLine = now;
        write(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {done}/{total} {unit}, {eta.Fraction:P0} of the work, {WorkEta.Format(now)} elapsed, {eta.Describe()}"));
    }

    private Phase Get(string name)
    {
        if (!_phases.TryGetValue(name, out var phase))
        {
            var eta = new WorkEta(clock);
            phase = new Phase(eta, eta.Elapsed);
            _phases[name] = phase;
        }

        return phase;
    }
}
