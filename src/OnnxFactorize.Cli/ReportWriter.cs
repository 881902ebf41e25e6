using OnnxFactorize.Planning;
using OnnxFactorize.Reports;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Cli;

/// <summary>Shows a validation result, writes the requested report files and maps pass/fail to the exit code.</summary>
internal static class ReportWriter
{
    public static int Finish(ValidationResult result, string? jsonPath, string? htmlPath, CliOutput output, BudgetPlan? plan = null)
    {
        if (!output.Quiet)
        {
            ConsoleReport.Render(result, output.Console);
        }

        if (jsonPath is not null)
        {
            Paths.EnsureFolder(jsonPath);
            JsonReport.WriteFile(result, jsonPath, plan);
            output.Line($"JSON report: {jsonPath}");
        }

        if (htmlPath is not null)
        {
            Paths.EnsureFolder(htmlPath);
            HtmlReport.WriteFile(result, htmlPath, plan);
            output.Line($"HTML report: {htmlPath}");
        }

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
}
