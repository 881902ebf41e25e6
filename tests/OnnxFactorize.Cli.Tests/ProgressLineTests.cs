using System.Text.RegularExpressions;

namespace OnnxFactorize.Cli.Tests;

/// <summary>Redirected output (CI logs) of long phases: lines with counts, the share of the work done and an ETA, then a
/// done line, instead of one line for minutes.</summary>
public sealed class ProgressLineTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Redirected_optimize_prints_decomposition_lines_with_counts_and_an_eta()
    {
        var run = CliProcess.Run("optimize", CliProcess.TestModel("cnn.onnx"), "-o", _dir.File("cnn.onnx"), "--rank-ratio", "0.5");
        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains("Decomposing…", lines);
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^Decomposing: \d+/10 nodes, \d+ % of the work, \S+ elapsed, ETA \d+[hms]"));
        Assert.Single(lines, l => l.StartsWith("Decomposing: 10/10 nodes done in ", StringComparison.Ordinal));
    }

    [Fact]
    public void Redirected_budget_run_prints_planner_lines_with_counts_and_an_eta()
    {
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("mlp.onnx"), "--max-error", "0.05",
            "--dim", "batch=1", "--cache-dir", _dir.File("cache"));
        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(lines, l => l.StartsWith("Planning ranks for relative L2 error ≤ 0.05", StringComparison.Ordinal));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^Measuring nodes: \d/5 nodes, \d+ % of the work, \S+ elapsed, ETA \d+[hms]"));
        Assert.Single(lines, l => l.StartsWith("Measuring nodes: 5/5 nodes done in ", StringComparison.Ordinal));
    }
}
