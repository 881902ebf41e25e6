using System.CommandLine;
using OnnxFactorize.Optimization;
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
        foreach (var path in new[] { a, b })
        {
            if (Directory.Exists(path))
            {
                throw new OnnxFactorizeException($"{path}: is a folder; give the path of an .onnx file.");
            }

            if (!File.Exists(path))
            {
                throw new OnnxFactorizeException($"{path}: file not found; check the model path.");
            }
        }

        var (json, html) = (parsed.GetValue(o.Report), parsed.GetValue(o.Html));
        FilePaths.RefuseOverlaps([("reference model", a), ("candidate model", b)],
            [.. (json is null ? [] : new[] { ("JSON report", json) }), .. (html is null ? [] : new[] { ("HTML report", html) })]);
        var result = output.WithValidationProgress("Validating in ONNX Runtime", progress => ModelValidator.Compare(a, b, options, progress, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        if (json is not null)
        {
            FilePaths.EnsureFolder(json);
            JsonReport.WriteFile(result, json);
        }

        if (html is not null)
        {
            FilePaths.EnsureFolder(html);
            HtmlReport.WriteFile(result, html);
        }

        return ReportWriter.Finish(result, json, html, output);
    }
}
