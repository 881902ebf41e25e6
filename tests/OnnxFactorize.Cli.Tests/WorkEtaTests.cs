namespace OnnxFactorize.Cli.Tests;

/// <summary>The ETA follows the work done: items of uneven size, a clock the test moves.</summary>
public class WorkEtaTests
{
    private sealed class FakeClock
    {
        public TimeSpan Now { get; set; }

        public void Advance(double seconds) => Now += TimeSpan.FromSeconds(seconds);
    }

    // Runs items of the given units, each taking seconds(units), and returns the ETA after the first `finished` items.
    private static TimeSpan? EtaAfter(double[] units, int finished, Func<double, double> seconds)
    {
        var clock = new FakeClock();
        var eta = new WorkEta(() => clock.Now);
        var total = units.Sum();
        var done = 0.0;
        eta.Update(0, units.Length, 0, total);
        for (var i = 0; i < finished; i++)
        {
            clock.Advance(seconds(units[i]));
            done += units[i];
            eta.Update(i + 1, units.Length, done, total);
        }

        return eta.Remaining;
    }

    [Fact]
    public void Small_first_items_do_not_make_the_big_ones_look_quick()
    {
        // Four small nodes, then four 100× bigger ones; time proportional to the work. An ETA from item counts would say
        // 4 items × 1 s = 4 s; the truth is 400 s.
        double[] units = [1, 1, 1, 1, 100, 100, 100, 100];
        var eta = EtaAfter(units, 4, u => u);
        Assert.NotNull(eta);
        Assert.InRange(eta!.Value.TotalSeconds, 360, 440);
    }

    [Fact]
    public void Big_first_items_do_not_make_the_small_ones_look_slow()
    {
        double[] units = [100, 100, 1, 1, 1, 1];
        var eta = EtaAfter(units, 2, u => u);
        Assert.InRange(eta!.Value.TotalSeconds, 3.5, 4.5);
    }

    [Fact]
    public void A_fixed_cost_per_item_is_not_scaled_by_the_item_size()
    {
        // Every item costs 2 s plus 0.01 s per unit: the fit separates the per-item overhead from the per-unit cost.
        double[] units = [10, 400, 10, 400, 10, 400, 10, 400];
        var eta = EtaAfter(units, 4, u => 2 + (0.01 * u));
        var truth = (4 * 2) + (0.01 * 820);
        Assert.InRange(eta!.Value.TotalSeconds, truth * 0.95, truth * 1.05);
    }

    [Fact]
    public void Items_of_equal_size_give_the_count_based_estimate()
    {
        var eta = EtaAfter([5, 5, 5, 5], 2, _ => 3);
        Assert.InRange(eta!.Value.TotalSeconds, 5.9, 6.1);
    }

    [Fact]
    public void Before_two_items_finish_there_is_no_estimate_and_after_all_of_them_none_is_left()
    {
        // One tiny first item that took long (start-up) would otherwise promise 1000 × its time for the rest.
        Assert.Null(EtaAfter([1, 2, 3], 0, u => u));
        Assert.Null(EtaAfter([1, 1000, 1000], 1, _ => 5));
        Assert.Equal(TimeSpan.Zero, EtaAfter([1, 2, 3], 3, u => u));
    }

    [Fact]
    public void Phase_lines_carry_counts_and_the_work_based_eta_and_one_done_line()
    {
        var clock = new FakeClock();
        var lines = new List<string>();
        var phases = new PhaseLines(lines.Add, () => clock.Now);
        double[] units = [1, 1, 1, 1, 100, 100, 100, 100];
        var total = units.Sum();
        var done = 0.0;
        phases.Report("Decomposing", 0, units.Length, 0, total, "nodes");
        for (var i = 0; i < units.Length; i++)
        {
            clock.Advance(units[i]);
            done += units[i];
            phases.Report("Decomposing", i + 1, units.Length, done, total, "nodes");
        }

        // The four small nodes pass no quarter of the work and take under 15 s: no line. The first big one passes a quarter:
        // a line whose ETA is the three big nodes left (an ETA from counts would say 3 × 13 s).
        Assert.Equal("Decomposing: 5/8 nodes, 26 % of the work, 1m44s elapsed, ETA 5m00s", lines[0]);
        Assert.Equal("Decomposing: 8/8 nodes done in 6m44s", lines[^1]);
        Assert.Equal(1, lines.Count(l => l.Contains("done in", StringComparison.Ordinal)));
        Assert.All(lines[..^1], l => Assert.Matches(@"^Decomposing: \d/8 nodes, \d+ % of the work, .* elapsed, ETA \d", l));
    }
}
