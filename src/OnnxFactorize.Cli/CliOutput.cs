using OnnxFactorize.Optimization;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;
using Spectre.Console;

namespace OnnxFactorize.Cli;

/// <summary>Where the tool writes: a Spectre console with live progress on a terminal, plain text (no ANSI, no live
/// progress) when stdout is redirected, and almost nothing with --quiet.</summary>
internal sealed class CliOutput
{
    private readonly TextWriter _stdout;

    public CliOutput(TextWriter stdout, bool plain, bool quiet, bool verbose)
    {
        _stdout = stdout;
        Plain = plain;
        Quiet = quiet;
        Verbose = verbose;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = plain ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = plain ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(stdout),
        });
        if (plain)
        {
            // Redirected output has no width; keep tables readable in CI logs instead of wrapping at 80 columns.
            Console.Profile.Width = 160;
        }
    }

    /// <summary>The console tables and reports are rendered to.</summary>
    public IAnsiConsole Console { get; }

    public bool Plain { get; }

    public bool Quiet { get; }

    public bool Verbose { get; }

    /// <summary>Whether live progress bars are shown.</summary>
    public bool Live => !Plain && !Quiet && Console.Profile.Capabilities.Interactive;

    /// <summary>A line of normal output (suppressed by --quiet).</summary>
    public void Line(string text)
    {
        if (!Quiet)
        {
            WriteLine(text);
        }
    }

    /// <summary>The one line --quiet keeps.</summary>
    public void Summary(string text) => WriteLine(text);

    // Plain output is for logs and scripts: a message stays one line whatever its length (Spectre would wrap it at the
    // profile width).
    private void WriteLine(string text)
    {
        if (Plain)
        {
            _stdout.WriteLine(text);
        }
        else
        {
            Console.WriteLine(text);
        }
    }

    /// <summary>Renders a table or other widget (suppressed by --quiet).</summary>
    public void Write(Spectre.Console.Rendering.IRenderable renderable)
    {
        if (!Quiet)
        {
            Console.Write(renderable);
        }
    }

    /// <summary>Runs <paramref name="work"/> with a progress bar over the engine's per-node progress (a bar on a terminal,
    /// one start line otherwise).</summary>
    public T WithNodeProgress<T>(string title, Func<IProgress<FactorizeProgress>?, T> work)
    {
        var phases = new PhaseLines(Line);
        if (!Live)
        {
            Line($"{title}…");
            return work(Quiet ? null : new SyncProgress<FactorizeProgress>(p => NodeLines(phases, title, p)));
        }

        var etas = new PhaseLines(_ => { });
        return LiveBars(bar => work(new SyncProgress<FactorizeProgress>(p => NodeBar(bar, etas, title, p))));
    }

    /// <summary>Runs a whole optimization: one live display with a bar per phase (decomposition per node, planning steps,
    /// validation samples and latency runs) on a terminal; one line per phase otherwise.</summary>
    public T WithOptimizeProgress<T>(Func<OptimizeProgress, T> work)
    {
        var title = "";
        if (!Live)
        {
            if (Quiet)
            {
                return work(new OptimizeProgress());
            }

            // Redirected output: a line per phase, then lines with counts and an ETA from the work done (PhaseLines).
            var phases = new PhaseLines(Line);
            return work(new OptimizeProgress
            {
                PhaseStarted = t => Line($"{title = t}…"),
                Factorize = new SyncProgress<FactorizeProgress>(p => NodeLines(phases, title, p)),
                Plan = new SyncProgress<PlanProgress>(p => { PlanLine(p); PlanLines(phases, p); }),
                Validation = new SyncProgress<ValidationProgress>(p => ValidationLines(phases, p)),
            });
        }

        var etas = new PhaseLines(_ => { });
        return LiveBars(bar => work(new OptimizeProgress
        {
            PhaseStarted = t => title = t,
            Factorize = new SyncProgress<FactorizeProgress>(p => NodeBar(bar, etas, title, p)),
            Plan = new SyncProgress<PlanProgress>(p => PlanBar(bar, etas, p)),
            Validation = new SyncProgress<ValidationProgress>(p => ValidationBar(bar, "Validating in ONNX Runtime", p)),
        }));
    }

    /// <summary>Runs a validation with one bar per phase (accuracy samples, latency runs) on a terminal, one start line
    /// otherwise.</summary>
    public T WithValidationProgress<T>(string title, Func<IProgress<ValidationProgress>?, T> work)
    {
        if (!Live)
        {
            Line($"{title}…");
            var phases = new PhaseLines(Line);
            return work(Quiet ? null : new SyncProgress<ValidationProgress>(p => ValidationLines(phases, p)));
        }

        return LiveBars(bar => work(new SyncProgress<ValidationProgress>(p => ValidationBar(bar, title, p))));
    }

    // Bars and percentages follow the work units the engine reports (decomposition cost), the ETA comes from WorkEta.
    private static void NodeBar(Func<string, ProgressTask> bar, PhaseLines etas, string title, FactorizeProgress p)
    {
        etas.Report(title, p.Done, p.Total, p.WorkDone, p.WorkTotal, "nodes");
        var task = bar(title);
        SetWork(task, p.Done, p.Total, p.WorkDone, p.WorkTotal);
        var eta = etas.EtaOf(title).Describe();
        task.Description = p.NodeName.Length > 0 ? $"{title} {Markup.Escape(p.NodeName)} ({p.Done + 1}/{p.Total}, {eta})" : $"{title} ({p.Total} nodes)";
    }

    private void PlanLine(PlanProgress p)
    {
        if (p.Phase == PlanPhase.Estimate)
        {
            Line($"  {Markup.Escape(p.Detail)}");
        }
    }

    private static void PlanBar(Func<string, ProgressTask> bar, PhaseLines etas, PlanProgress p)
    {
        var stream = PlanStream(p.Phase);
        if (stream is not null)
        {
            etas.Report(stream, p.Done, p.Total, p.WorkDone, p.WorkTotal, "nodes");
        }

        var task = bar(p.Phase.ToString());
        SetWork(task, p.Done, p.Total, p.WorkDone, p.WorkTotal);
        var eta = stream is null ? "" : $" ({etas.EtaOf(stream).Describe()})";
        task.Description = p.Detail.Length > 0 ? $"{p.Phase}: {Markup.Escape(p.Detail)}{eta}" : p.Phase.ToString();
    }

    private static void SetWork(ProgressTask task, int done, int total, double workDone, double workTotal)
    {
        task.MaxValue = workTotal > 0 ? workTotal : Math.Max(total, 1);
        task.Value = workTotal > 0 ? Math.Min(workDone, workTotal) : done;
    }

    // The planner's node-measuring phases (ladder, sensitivity, latency) are one stream of work; verification is another.
    private static string? PlanStream(PlanPhase phase) => phase switch
    {
        PlanPhase.Ladder or PlanPhase.Sensitivity or PlanPhase.Latency => "Measuring nodes",
        PlanPhase.Verify => "Verifying plans",
        _ => null,
    };

    private static void NodeLines(PhaseLines phases, string title, FactorizeProgress p) =>
        phases.Report(title, p.Done, p.Total, p.WorkDone, p.WorkTotal, "nodes");

    private static void PlanLines(PhaseLines phases, PlanProgress p)
    {
        if (PlanStream(p.Phase) is { } stream)
        {
            phases.Report(stream, p.Done, p.Total, p.WorkDone, p.WorkTotal, p.Phase == PlanPhase.Verify ? "verifications" : "nodes");
        }
    }

    private static void ValidationLines(PhaseLines phases, ValidationProgress p) =>
        phases.Report(p.Phase == "latency" ? "Timing both models" : "Validating accuracy", p.Done, p.Total, 0, 0, p.Phase == "latency" ? "runs" : "samples");

    private static void ValidationBar(Func<string, ProgressTask> bar, string title, ValidationProgress p)
    {
        var task = bar(p.Phase == "latency" ? "Timing both models (interleaved)" : Markup.Escape(title));
        task.MaxValue = Math.Max(p.Total, 1);
        task.Value = p.Done;
    }

    /// <summary>One live progress display whose bars are created by name on first use and completed at the end.</summary>
    private T LiveBars<T>(Func<Func<string, ProgressTask>, T> work) =>
        Console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                var tasks = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                ProgressTask Bar(string name)
                {
                    if (!tasks.TryGetValue(name, out var task))
                    {
                        task = context.AddTask(name, maxValue: 1);
                        tasks[name] = task;
                    }

                    return task;
                }

                var result = work(Bar);
                foreach (var task in tasks.Values)
                {
                    task.Value = task.MaxValue;
                }

                return result;
            });

    public static string Count(long value) => OptimizeReport.Count(value);

    public static string Percent(long before, long after) => OptimizeReport.Percent(before, after);

    public static string Shape(IReadOnlyList<long> shape) => shape.Count == 0 ? "–" : string.Join("×", shape);
}
