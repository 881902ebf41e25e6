using System.CommandLine;
using System.Globalization;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;
using Spectre.Console;

namespace OnnxFactorize.Cli;

/// <summary><c>optimize &lt;model&gt; -o &lt;out&gt;</c>: factorize, save atomically, optionally validate and report.</summary>
internal static class OptimizeCommand
{
    public static int Run(ParseResult parsed, CliOptions o, CliOutput output, CancellationToken cancellationToken)
    {
        var modelPath = parsed.GetRequiredValue<string>("model");
        var outputPath = parsed.GetRequiredValue(o.Output);
        var factorize = o.ToFactorizeOptions(parsed);
        var budget = o.ToBudgetOptions(parsed, factorize);
        var validate = parsed.GetValue(o.Validate);
        if (!validate && o.FirstValidationOptionGiven(parsed, budget is not null) is { } needsValidate)
        {
            throw new OnnxFactorizeException($"{needsValidate} only applies with --validate; add --validate or drop {needsValidate}.");
        }

        var validation = validate ? WithBudgetThreshold(o.ToValidationOptions(parsed), budget) : null;
        var reportPath = parsed.GetValue(o.Report);
        var htmlPath = parsed.GetValue(o.Html);
        (string, string?)[] reads = [("input model", modelPath), ("--inputs", parsed.GetValue(o.Inputs)), ("--labels", parsed.GetValue(o.Labels))];
        (string, string?)[] writes =
        [
            ("output", outputPath), ("output's data file", OutputPaths.DataFileFor(outputPath)), ("--report", reportPath), ("--html", htmlPath),
            ("--cache-dir", budget?.CacheDirectory),
        ];
        Paths.CheckDistinct(reads, writes);

        var model = OnnxModel.Load(modelPath);
        Paths.CheckDistinct(reads, writes, model);
        if (validation is not null)
        {
            // Unbound dims and bad input files are reported before any work, and before anything is written.
            ModelValidator.CheckInputs(modelPath, validation);
        }

        cancellationToken.ThrowIfCancellationRequested();
        FactorizationResult result;
        BudgetPlan? plan = null;
        if (budget is null)
        {
            var shapes = ShapeProbe.TryMeasure(model, o.Dims(parsed), output);
            result = output.WithNodeProgress("Decomposing", progress => Factorizer.Run(model, factorize, progress, cancellationToken, measuredShapes: shapes));
        }
        else
        {
            var planned = output.WithPlanProgress($"Planning ranks for {budget.DescribeBudget()}", progress => BudgetPlanner.Run(model, budget, progress, cancellationToken));
            (result, plan) = (planned.Factorization, planned.Plan);
            output.Write(PlanTable(plan));
        }

        // Last point where Ctrl+C leaves nothing behind; Save itself is atomic (temporary file, then rename).
        cancellationToken.ThrowIfCancellationRequested();
        result.Model.Save(outputPath, new SaveOptions { ExternalData = parsed.GetValue(o.ExternalData) ? ExternalDataMode.Always : ExternalDataMode.Auto });

        var factorized = result.Decisions.Count(d => d.Status == DecisionStatus.Factorized);
        var totalBefore = ModelCost.CountParameters(model.Proto);
        var totalAfter = ModelCost.CountParameters(result.Model.Proto);
        var how = plan is null ? factorize.RankPolicy.ToString()
            : string.Create(CultureInfo.InvariantCulture, $"{budget!.DescribeBudget()}, measured {plan.FinalError:G3} on {plan.SampleCount} calibration sample(s)");
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{modelPath} -> {outputPath}: {factorized} of {result.Decisions.Count} node(s) factorized ({how}), parameters {CliOutput.Count(totalBefore)} -> {CliOutput.Count(totalAfter)} ({CliOutput.Percent(totalBefore, totalAfter)})");
        if (!result.Changed)
        {
            line += "; no node selected or worth factorizing, the model was written unchanged";
        }

        if (validation is null)
        {
            if (result.Decisions.Count > 0)
            {
                output.Write(DecisionTable(result.Decisions, output.Verbose));
            }

            output.Summary(line);
            return ExitCodes.Success;
        }

        output.Line(line);
        var report = output.WithValidationProgress("Validating in ONNX Runtime", progress => ModelValidator.Compare(modelPath, outputPath, validation, result.Decisions, progress, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        return ReportWriter.Finish(report, reportPath, htmlPath, output, plan);
    }

    /// <summary>With a budget, validation checks the same limit on its own inputs unless a threshold for it was given.</summary>
    private static ValidationOptions WithBudgetThreshold(ValidationOptions validation, BudgetOptions? budget)
    {
        if (budget?.MaxError is not { } maxError || validation.Thresholds.MaxRelL2Error is not null)
        {
            return validation;
        }

        return validation with { Thresholds = validation.Thresholds with { MaxRelL2Error = maxError } };
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
