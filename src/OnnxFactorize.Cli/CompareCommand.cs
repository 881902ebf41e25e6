using System.CommandLine;
using OnnxFactorize.Onnx;
using OnnxFactorize.Reports;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Cli;

/// <summary><c>compare &lt;a&gt; &lt;b&gt;</c>: run two models with the same inputs and outputs and check thresholds.</summary>
internal static class CompareCommand
{
    public static int Run(ParseResult parsed, CliOptions o, CliOutput output, CancellationToken cancellationToken)
    {
        var a = parsed.GetRequiredValue<string>("a");
        var b = parsed.GetRequiredValue<string>("b");
        var options = o.ToValidationOptions(parsed);
        (string, string?)[] reads = [("model", a), ("model", b), ("--inputs", parsed.GetValue(o.Inputs)), ("--labels", parsed.GetValue(o.Labels))];
        (string, string?)[] writes = [("--report", parsed.GetValue(o.Report)), ("--html", parsed.GetValue(o.Html))];
        OutputPaths.CheckAll(reads, writes);

        // Loading checks each model's structure and finds the external-data files it reads.
        OutputPaths.CheckAll(reads, writes, OnnxModel.Load(a), OnnxModel.Load(b));

        var (json, html) = (parsed.GetValue(o.Report), parsed.GetValue(o.Html));
        var result = output.WithValidationProgress("Validating in ONNX Runtime", progress => ModelValidator.Compare(a, b, options, progress, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        if (json is not null)
        {
            OutputPaths.EnsureFolder(json);
            JsonReport.WriteFile(result, json);
        }

        if (html is not null)
        {
            OutputPaths.EnsureFolder(html);
            HtmlReport.WriteFile(result, html);
        }

        return ReportWriter.Finish(result, json, html, output);
    }
}
