using System.Text.Json;

namespace OnnxFactorize.Cli.Tests;

public sealed class BudgetEstimateTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Budget_mode_prints_its_time_estimate_before_the_plan_and_reports_where_the_time_went()
    {
        var json = _dir.File("plan.json");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("cnn.onnx"), "-o", _dir.File("out.onnx"), "--max-error", "0.05",
            "--no-cache", "--calibration-samples", "3", "--report", json);

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Stdout.Split('\n');
        var estimate = Array.FindIndex(lines, l => l.Contains("estimate: ", StringComparison.Ordinal));
        Assert.True(estimate >= 0, run.ToString());
        Assert.Matches(@"estimate: \d+ node\(s\) × ≤ 17 rungs = \d+–\d+ evaluations \+ ≤ 14 verifications, [\d.]+ (s|min) per evaluation \(the reference pass over 3 sample\(s\)\) → ", lines[estimate]);
        Assert.True(estimate < Array.FindIndex(lines, l => l.Contains("Budget plan", StringComparison.Ordinal)), run.Stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var stats = doc.RootElement.GetProperty("planning").GetProperty("stats");
        Assert.True(stats.GetProperty("evaluationSeconds").GetDouble() > 0);
        Assert.True(stats.GetProperty("evaluationSeconds").GetDouble() <= stats.GetProperty("seconds").GetDouble());
    }
}
