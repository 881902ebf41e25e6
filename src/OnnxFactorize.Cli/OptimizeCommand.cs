using System.CommandLine;
using System.Globalization;
using OnnxFactorize.Onnx;
using OnnxFactorize.Optimization;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Reports;
using Spectre.Console;

namespace OnnxFactorize.Cli;

/// <summary><c>optimize &lt;model&gt; -o &lt;out&gt;</c>: factorize, save atomically, optionally validate and report.</summary>
internal static class OptimizeCommand
{
    public static int Run(ParseResult parsed, CliOptions o, CliOutput output, CancellationToken cancellationToken)
    {
        var factorize = o.ToFactorizeOptions(parsed) with { DataAware = o.ToDataAware(parsed) };
        var dataAware = factorize.DataAware != DataAwareMode.None;
        var budget = o.ToBudgetOptions(parsed, factorize);
        var validate = parsed.GetValue(o.Validate);
        if (!validate && o.FirstValidationOptionGiven(parsed, budget is not null, dataAware) is { } needsValidate)
        {
            throw new OnnxFactorizeException($"{needsValidate} only applies with --validate; add --validate or drop {needsValidate}.");
        }

        var request = new OptimizeRequest
        {
            ModelPath = parsed.GetRequiredValue<string>("model"),
            OutputPath = parsed.GetRequiredValue(o.Output),
            Factorize = factorize,
            Budget = budget,
            CalibrationInputs = dataAware ? parsed.GetValue(o.Inputs) : null,
            CalibrationCacheDirectory = dataAware ? o.CalibrationCacheDirectory(parsed) : null,
            Validation = validate ? o.ToValidationOptions(parsed) : null,
            Dims = o.Dims(parsed),
            ExternalData = parsed.GetValue(o.ExternalData) ? ExternalDataMode.Always : ExternalDataMode.Auto,
            JsonReportPath = parsed.GetValue(o.Report),
            HtmlReportPath = parsed.GetValue(o.Html),
        };
        var report = output.WithOptimizeProgress(progress => Optimizer.Run(request, progress, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var note in report.Notes)
        {
            output.Line(note);
        }

        if (output.Verbose && report.PeakRssBytes is { } peak)
        {
            output.Line($"peak memory: {PeakMemory.Format(peak)} resident ({peak} bytes)");
        }

        if (report.Plan is { } plan)
        {
            output.Write(PlanTable(plan));
        }

        if (report.Validation is null)
        {
            if (report.Factorization.Decisions.Count > 0)
            {
                output.Write(DecisionTable(report.Factorization.Decisions, output.Verbose));
            }

            output.Summary(report.Summary());
            ReportWriter.ListFiles(request.JsonReportPath, null, output);
            return ExitCodes.Success;
        }

        output.Line(report.Summary());
        return ReportWriter.Finish(report.Validation, request.JsonReportPath, request.HtmlReportPath, output, report.Factorization.Decisions);
    }

    /// <summary>Per node: the ladder measured (rank: output error), the rank chosen and why.</summary>
    private static Table PlanTable(BudgetPlan plan)
    {
        var table = new Table().Title(Markup.Escape($"Budget plan ({plan.Budget}, target {plan.Target.ToString().ToLowerInvariant()})"))
            .AddColumns("Node", "Op", "Ladder (rank: error)", "Chosen", "Why");
        foreach (var n in plan.Nodes)
        {
            var ladder = string.Join(", ", n.Ladder.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Rank}: {p.Error:G2}")));
            table.AddRow(
                Markup.Escape(n.NodeName),
                n.OpType,
                ladder.Length > 0 ? ladder : "–",
                n.ChosenRank > 0 ? n.ChosenRank.ToString(CultureInfo.InvariantCulture) : "–",
                Markup.Escape(n.Reason));
        }

        return table;
    }

    /// <summary>Per-node decisions and a totals row; skip reasons always shown (they say what to change).</summary>
    private static Table DecisionTable(IReadOnlyList<FactorizationDecision> decisions, bool verbose)
    {
        var table = new Table().Title("Nodes").AddColumns("Node", "Op", "Weight", "Method", "Rank", "Break-even", "Params", "Weight rel. error", "Status");
        foreach (var d in decisions)
        {
            var factorized = d.Status == DecisionStatus.Factorized;
            table.AddRow(
                Markup.Escape(d.NodeName),
                d.OpType,
                CliOutput.Shape(d.WeightShape),
                Markup.Escape(d.Method),
                factorized ? d.Rank.ToString(CultureInfo.InvariantCulture) : "–",
                d.BreakEvenRank > 0 ? d.BreakEvenRank.ToString(CultureInfo.InvariantCulture) : "–",
                d.ParamsBefore > 0 ? $"{CliOutput.Count(d.ParamsBefore)} -> {CliOutput.Count(d.ParamsAfter)}" : "–",
                factorized ? d.WeightRelError.ToString("G3", CultureInfo.InvariantCulture) : "–",
                factorized ? (verbose ? "factorized: " + Markup.Escape(d.Reason) : "factorized") : "skipped: " + Markup.Escape(d.Reason));
        }

        return table;
    }
}
