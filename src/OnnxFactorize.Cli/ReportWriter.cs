using OnnxFactorize.Passes;
using OnnxFactorize.Reports;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Cli;

/// <summary>Shows a validation result, names the report files written and maps pass/fail to the exit code.</summary>
internal static class ReportWriter
{
    public static int Finish(ValidationResult result, string? jsonPath, string? htmlPath, CliOutput output, IReadOnlyList<FactorizationDecision>? decisions = null)
    {
        if (!output.Quiet)
        {
            ConsoleReport.Render(result, output.Console, decisions);
        }

        ListFiles(jsonPath, htmlPath, output);
        var verdict = !result.Checked ? $"validation: no thresholds set, nothing was checked ({result.SampleCount} sample(s), {result.Outputs.Count} output(s))"
            : result.Passed
            ? $"validation passed ({result.SampleCount} sample(s), {result.Outputs.Count} output(s); {result.Thresholds.Describe()})"
            : $"validation FAILED: {string.Join("; ", result.Failures.Select(f => f.Message))}";
        if (output.Quiet)
        {
            output.Summary(verdict);
        }

        return result.Passed ? ExitCodes.Success : ExitCodes.ThresholdFailed;
    }

    /// <summary>Names the report files the engine wrote.</summary>
    public static void ListFiles(string? jsonPath, string? htmlPath, CliOutput output)
    {
        if (jsonPath is not null)
        {
            output.Line($"JSON report: {jsonPath}");
        }

        if (htmlPath is not null)
        {
            output.Line($"HTML report: {htmlPath}");
        }
    }
}
