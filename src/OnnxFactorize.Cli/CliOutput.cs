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
    public T WithNodeProgress<T>(string title, Func<IProgress<FactorizeProgress>?, T> work) =>
        WithBars(title, work, (bar, p) => NodeBar(bar, title, p));

    /// <summary>Runs a whole optimization: one live display with a bar per phase (decomposition per node, planning steps,
    /// validation samples and latency runs) on a terminal; one line per phase otherwise.</summary>
    public T WithOptimizeProgress<T>(Func<OptimizeProgress, T> work)
    {
        if (!Live)
        {
            // Of the planner's steps, the time estimate is worth a line of its own in a log.
            return work(new OptimizeProgress
            {
                PhaseStarted = title => Line($"{title}…"),
                Plan = new SyncProgress<PlanProgress>(p => PlanLine(p)),
            });
        }

        return LiveBars(bar =>
        {
            var title = "";
            return work(new OptimizeProgress
            {
                PhaseStarted = t => title = t,
                Factorize = new SyncProgress<FactorizeProgress>(p => NodeBar(bar, title, p)),
                Plan = new SyncProgress<PlanProgress>(p => PlanBar(bar, p)),
                Validation = new SyncProgress<ValidationProgress>(p => ValidationBar(bar, "Validating in ONNX Runtime", p)),
            });
        });
    }

    /// <summary>Runs a validation with one bar per phase (accuracy samples, latency runs) on a terminal, one start line
    /// otherwise.</summary>
    public T WithValidationProgress<T>(string title, Func<IProgress<ValidationProgress>?, T> work) =>
        WithBars(title, work, (bar, p) => ValidationBar(bar, title, p));

    private static void NodeBar(Func<string, ProgressTask> bar, string title, FactorizeProgress p)
    {
        var task = bar(title);
        task.MaxValue = Math.Max(p.Total, 1);
        task.Value = p.Done;
        task.Description = p.NodeName.Length > 0 ? $"{title} {Markup.Escape(p.NodeName)} ({p.Done + 1}/{p.Total})" : $"{title} ({p.Total} nodes)";
    }

    private void PlanLine(PlanProgress p)
    {
        if (p.Phase == PlanPhase.Estimate)
        {
            Line($"  {Markup.Escape(p.Detail)}");
        }
    }

    private static void PlanBar(Func<string, ProgressTask> bar, PlanProgress p)
    {
        var task = bar(p.Phase.ToString());
        task.MaxValue = Math.Max(p.Total, 1);
        task.Value = p.Done;
        task.Description = p.Detail.Length > 0 ? $"{p.Phase}: {Markup.Escape(p.Detail)}" : p.Phase.ToString();
    }

    private static void ValidationBar(Func<string, ProgressTask> bar, string title, ValidationProgress p)
    {
        var task = bar(p.Phase == "latency" ? "Timing both models (interleaved)" : Markup.Escape(title));
        task.MaxValue = Math.Max(p.Total, 1);
        task.Value = p.Done;
    }

    /// <summary>Live bars on a terminal (one per name <paramref name="report"/> asks for, completed at the end), else one
    /// start line and no progress.</summary>
    private T WithBars<TProgress, T>(string title, Func<IProgress<TProgress>?, T> work, Action<Func<string, ProgressTask>, TProgress> report)
    {
        if (!Live)
        {
            Line($"{title}…");
            return work(null);
        }

        return LiveBars(bar => work(new SyncProgress<TProgress>(p => report(bar, p))));
    }

    /// <summary>One live progress display whose bars are created by name on first use and completed at the end.</summary>
    private T LiveBars<T>(Func<Func<string, ProgressTask>, T> work) =>
        Console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
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
