using System.CommandLine;
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

        var result = output.WithValidationProgress("Validating in ONNX Runtime", progress => ModelValidator.Compare(a, b, options, null, progress, cancellationToken));
        cancellationToken.ThrowIfCancellationRequested();
        return ReportWriter.Finish(result, parsed.GetValue(o.Report), parsed.GetValue(o.Html), output);
    }
}
