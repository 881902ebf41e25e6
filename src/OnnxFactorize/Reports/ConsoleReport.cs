using System.Globalization;
using OnnxFactorize.Passes;
using Spectre.Console;
using ValidationResult = OnnxFactorize.Validation.ValidationResult;

namespace OnnxFactorize.Reports;

/// <summary>Renders a <see cref="ValidationResult"/> as Spectre.Console tables for humans.</summary>
public static class ConsoleReport
{
    /// <summary>Writes the summary, node, output and latency tables and the pass/fail verdict to <paramref name="console"/>.</summary>
    public static void Render(ValidationResult result, IAnsiConsole console, IReadOnlyList<FactorizationDecision>? decisions = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(console);
        var summary = new Table().Title("Model").AddColumns("", "Original", "Optimized", "Ratio");
        summary.AddRow("Parameters", Count(result.Original.Parameters), Count(result.Optimized.Parameters), Ratio(result.Optimized.Parameters, result.Original.Parameters));
        summary.AddRow("FLOPs", Count(result.Original.Flops), Count(result.Optimized.Flops), Ratio(result.Optimized.Flops, result.Original.Flops));
        summary.AddRow("File bytes", Count(result.Original.FileBytes), Count(result.Optimized.FileBytes), Ratio(result.Optimized.FileBytes, result.Original.FileBytes));
        console.Write(summary);

        decisions ??= [];
        if (decisions.Count > 0)
        {
            var nodes = new Table().Title("Nodes").AddColumns("Node", "Op", "Method", "Rank", "Params", "Weight rel. error", "Status");
            foreach (var d in decisions)
            {
                nodes.AddRow(
                    Markup.Escape(d.NodeName),
                    d.OpType,
                    Markup.Escape(d.Mode == "whiten" ? d.Method + " (whiten)" : d.Method),
                    d.Rank.ToString(CultureInfo.InvariantCulture),
                    $"{Count(d.ParamsBefore)} → {Count(d.ParamsAfter)}",
                    d.OutputRelError is { } output ? $"{Num(d.WeightRelError)} (output {Num(output)} on calibration data)" : Num(d.WeightRelError),
                    d.Status == DecisionStatus.Factorized ? "[green]factorized[/]" : $"skipped: {Markup.Escape(d.Reason)}");
            }

            console.Write(nodes);
        }

        var outputs = new Table().Title(Markup.Escape($"Accuracy ({result.SampleCount} sample(s){(result.InputsDescription.Length > 0 ? ": " + result.InputsDescription : "")})")).AddColumns("Output", "Max abs", "Mean abs", "Rel. L2", "Cosine", "Top-1 agree", "Accuracy drop", "Non-finite");
        foreach (var o in result.Outputs)
        {
            var c = o.Classification;
            outputs.AddRow(
                Markup.Escape(o.Name),
                Num(o.MaxAbsError),
                Num(o.MeanAbsError),
                Num(o.RelL2Error),
                Num(o.Cosine),
                c is null ? "-" : (c.Top1Agreement * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%",
                c?.AccuracyDropPoints is { } drop ? drop.ToString("0.00", CultureInfo.InvariantCulture) + " pt" : "-",
                o.NonFiniteOriginal + o.NonFiniteOptimized == 0 ? "0" : $"[red]{o.NonFiniteOriginal} / {o.NonFiniteOptimized}[/]");
        }

        console.Write(outputs);

        if (result.Latency is { } l)
        {
            var latency = new Table().Title($"Latency ({l.Runs} interleaved runs, {l.ExecutionProvider})").AddColumns("", "Median ms", "p90 ms", "Min ms");
            latency.AddRow("Original", Ms(l.Original.MedianMs), Ms(l.Original.P90Ms), Ms(l.Original.MinMs));
            latency.AddRow("Optimized", Ms(l.Optimized.MedianMs), Ms(l.Optimized.P90Ms), Ms(l.Optimized.MinMs));
            console.Write(latency);
            console.MarkupLine($"Speedup: [bold]{Markup.Escape(l.Describe())}[/]");
        }

        if (result.HeldOut is { } heldOut)
        {
            console.MarkupLine((heldOut.Margin >= 0 ? "" : "[red]") + Markup.Escape(heldOut.Describe()) + (heldOut.Margin >= 0 ? "" : "[/]"));
        }

        if (result.Checked)
        {
            console.MarkupLine($"Thresholds: {Markup.Escape(result.Thresholds.Describe())}");
        }

        if (!result.Checked)
        {
            console.MarkupLine("[yellow]NOT CHECKED[/]: no thresholds set: nothing was checked.");
        }
        else if (result.Passed)
        {
            console.MarkupLine("[green]PASS[/]: every threshold held.");
        }
        else
        {
            console.MarkupLine($"[red]FAIL[/]: {result.Failures.Count} threshold(s) broken.");
            foreach (var f in result.Failures)
            {
                console.MarkupLine($"  [red]✗[/] {Markup.Escape(f.Message)}");
            }
        }
    }

    private static string Count(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string Ratio(long after, long before) => before == 0 ? "-" : ((double)after / before).ToString("0.000", CultureInfo.InvariantCulture);

    private static string Num(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    private static string Ms(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
}
