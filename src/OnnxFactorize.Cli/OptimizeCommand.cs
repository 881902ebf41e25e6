using System.CommandLine;
using System.Globalization;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
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
        var validate = parsed.GetValue(o.Validate);
        if (!validate && o.FirstValidationOptionGiven(parsed) is { } needsValidate)
        {
            throw new OnnxFactorizeException($"{needsValidate} only applies with --validate; add --validate or drop {needsValidate}.");
        }

        var validation = validate ? o.ToValidationOptions(parsed) : null;
        Paths.RefuseSameFile(modelPath, outputPath);
        var reportPath = parsed.GetValue(o.Report);
        var htmlPath = parsed.GetValue(o.Html);

        var model = OnnxModel.Load(modelPath);
        if (validation is not null)
        {
            // Unbound dims and bad input files are reported before any work, and before anything is written.
            ModelValidator.CheckInputs(modelPath, validation);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var shapes = ShapeProbe.TryMeasure(model, o.Dims(parsed), output);
        var result = output.WithNodeProgress("Decomposing", progress => Factorizer.Run(model, factorize, progress, cancellationToken, measuredShapes: shapes));

        // Last point where Ctrl+C leaves nothing behind; Save itself is atomic (temporary file, then rename).
        cancellationToken.ThrowIfCancellationRequested();
        result.Model.Save(outputPath, new SaveOptions { ExternalData = parsed.GetValue(o.ExternalData) ? ExternalDataMode.Always : ExternalDataMode.Auto });

        var factorized = result.Decisions.Count(d => d.Status == DecisionStatus.Factorized);
        var before = result.Decisions.Where(d => d.Status == DecisionStatus.Factorized).Sum(d => d.ParamsBefore);
        var after = result.Decisions.Where(d => d.Status == DecisionStatus.Factorized).Sum(d => d.ParamsAfter);
        var totalBefore = ModelCost.CountParameters(model.Proto);
        var totalAfter = ModelCost.CountParameters(result.Model.Proto);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{modelPath} -> {outputPath}: {factorized} of {result.Decisions.Count} node(s) factorized ({factorize.RankPolicy}), parameters {CliOutput.Count(totalBefore)} -> {CliOutput.Count(totalAfter)} ({CliOutput.Percent(totalBefore, totalAfter)})");
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
        return ReportWriter.Finish(report, reportPath, htmlPath, output);
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
