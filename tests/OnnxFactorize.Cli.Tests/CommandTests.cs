using System.Text.Json;

namespace OnnxFactorize.Cli.Tests;

/// <summary>Every command on the test models, run as a process with stdout redirected (plain output).</summary>
public sealed class CommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Help_documents_the_commands_and_the_exit_codes()
    {
        var run = CliProcess.Run("--help");
        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var text in new[] { "optimize", "analyze", "compare", "Exit codes", "--quiet", "--verbose" })
        {
            Assert.Contains(text, run.Stdout);
        }
    }

    [Fact]
    public void Optimize_help_lists_every_option_of_the_contract()
    {
        var run = CliProcess.Run("optimize", "--help");
        Assert.True(run.ExitCode == 0, run.ToString());
        string[] options =
        [
            "--output", "--method", "--energy", "--rank", "--rank-ratio", "--compression", "--rank-multiple", "--op", "--only", "--exclude",
            "--allow-overridable-weights", "--external-data", "--validate", "--inputs", "--labels", "--dim", "--runs", "--threads",
            "--max-rel-error", "--max-abs-error", "--min-cosine", "--min-top1-agreement", "--max-accuracy-drop", "--min-speedup",
            "--report", "--html", "--seed", "--quiet", "--verbose", "--max-error", "--target", "--calibration-samples", "--cache-dir",
            "--no-cache", "--no-latency-guard", "--tucker-ranks", "--data-aware", "Exit codes: 0 success; 1",
        ];
        foreach (var option in options)
        {
            Assert.Contains(option, run.Stdout);
        }
    }

    [Theory]
    [InlineData("mlp_gemm.onnx")]
    [InlineData("matmul_3d.onnx")]
    [InlineData("matmul_2d.onnx")]
    [InlineData("cnn.onnx")]
    public void Optimize_writes_a_model_no_larger_than_the_input_with_plain_output(string model)
    {
        var output = _dir.File("out/" + model);
        var run = CliProcess.Run("optimize", CliProcess.TestModel(model), "-o", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(output));
        Assert.True(new FileInfo(output).Length <= new FileInfo(CliProcess.TestModel(model)).Length);
        Assert.DoesNotContain("\u001b[", run.Stdout);
        Assert.Contains("factorized", run.Stdout);
        Assert.Empty(run.Stderr);
    }

    [Fact]
    public void Optimize_verbose_prints_the_peak_memory_and_the_report_records_it()
    {
        var json = _dir.File("peak.json");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("peak.onnx"), "--rank", "4", "--verbose", "--report", json);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(@"peak memory: \d+ MiB resident \(\d+ bytes\)", run.Stdout);
        using var report = JsonDocument.Parse(File.ReadAllText(json));
        Assert.True(report.RootElement.GetProperty("summary").GetProperty("peakRssBytes").GetInt64() > 1 << 20);
        Assert.DoesNotContain("peak memory", CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("quiet.onnx"), "--rank", "4").Stdout);
    }

    [Fact]
    public void Optimize_mlp_factorizes_and_shrinks_it()
    {
        var output = _dir.File("mlp.onnx");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", output, "--rank", "4", "--external-data");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("node(s) factorized (fixed rank 4)", run.Stdout);
        Assert.True(new FileInfo(output).Length + new FileInfo(output + ".data").Length < new FileInfo(CliProcess.TestModel("mlp_gemm.onnx")).Length);
    }

    [Fact]
    public void Optimize_with_data_aware_whiten_fits_every_gemm_to_the_inputs_and_validates_on_them()
    {
        var inputs = _dir.File("calibration");
        Directory.CreateDirectory(inputs);
        var random = new Random(3);
        var x = Enumerable.Range(0, 32 * 64).Select(_ => (float)random.NextDouble()).ToArray();
        OnnxFactorize.Validation.TensorFiles.WriteNpy(Path.Combine(inputs, "X.npy"), OnnxFactorize.Validation.TensorData.Create("X", [32, 64], x));
        var report = _dir.File("whiten.json");

        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("whiten.onnx"), "--rank", "4",
            "--data-aware", "whiten", "--inputs", inputs, "--validate", "--report", report);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("data-aware (whiten)", run.Stdout);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report));
        var factorized = json.RootElement.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("status").GetString() == "factorized").ToList();
        Assert.NotEmpty(factorized);
        Assert.All(factorized, n => Assert.Equal("whiten", n.GetProperty("mode").GetString()));
        Assert.All(factorized, n => Assert.InRange(n.GetProperty("outputRelError").GetDouble(), 0, 1));
    }

    [Fact]
    public void Optimize_with_data_aware_sequential_refits_every_gemm_reports_the_statistics_time_and_reuses_its_cache()
    {
        var inputs = _dir.File("calibration");
        Directory.CreateDirectory(inputs);
        var random = new Random(3);
        var x = Enumerable.Range(0, 32 * 64).Select(_ => (float)random.NextDouble()).ToArray();
        OnnxFactorize.Validation.TensorFiles.WriteNpy(Path.Combine(inputs, "X.npy"), OnnxFactorize.Validation.TensorData.Create("X", [32, 64], x));
        var report = _dir.File("sequential.json");
        string[] args = ["optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("sequential.onnx"), "--rank", "4",
            "--data-aware", "sequential", "--inputs", inputs, "--cache-dir", _dir.File("cache"), "--report", report];

        var run = CliProcess.Run(args);
        var again = CliProcess.Run(args);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("data-aware (sequential)", run.Stdout);
        Assert.Contains("statistics pass(es)", run.Stdout);
        Assert.Contains("from the statistics cache", again.Stdout);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(report));
        var factorized = json.RootElement.GetProperty("nodes").EnumerateArray().Where(n => n.GetProperty("status").GetString() == "factorized").ToList();
        Assert.NotEmpty(factorized);
        Assert.All(factorized, n => Assert.Equal("sequential", n.GetProperty("mode").GetString()));
    }

    [Fact]
    public void Optimize_that_selects_no_node_writes_a_byte_identical_model()
    {
        var output = _dir.File("same.onnx");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", output, "--only", "^no-such-node$");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("written unchanged", run.Stdout);
        Assert.Equal(File.ReadAllBytes(CliProcess.TestModel("mlp_gemm.onnx")), File.ReadAllBytes(output));
    }

    [Fact]
    public void A_wildcard_dim_binds_every_unnamed_symbolic_dim_and_says_so()
    {
        // mlp_gemm.onnx has a symbolic batch dim: without a binding, validation refuses (exit 2); with --dim *=1 it runs.
        var refused = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("w0.onnx"), "--validate", "--runs", "1");
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Contains("--dim batch=1", refused.Stderr, StringComparison.Ordinal);

        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("w.onnx"), "--validate", "--runs", "1", "--dim", "*=1");
        Assert.True(run.ExitCode is 0 or 1, run.ToString());
        Assert.Contains("symbolic dims not bound by name are set to 1", run.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Optimize_without_validate_writes_a_json_report_of_the_decisions()
    {
        var json = _dir.File("plain/report.json");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("plain.onnx"), "--rank-ratio", "0.25", "--report", json);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.False(root.GetProperty("validated").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("passed").ValueKind);
        var summary = root.GetProperty("summary");
        Assert.True(summary.GetProperty("nodesFactorized").GetInt32() > 0);
        Assert.Equal(root.GetProperty("nodes").GetArrayLength(), summary.GetProperty("nodeCount").GetInt32());
        Assert.Contains("node(s) factorized (ratio 0.25)", summary.GetProperty("text").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Optimize_with_validate_passes_and_writes_json_and_html_reports()
    {
        var output = _dir.File("v.onnx");
        var json = _dir.File("reports/report.json");
        var html = _dir.File("reports/report.html");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", output, "--validate", "--dim", "batch=2", "--runs", "3",
            "--max-rel-error", "0.5", "--min-cosine", "0.9", "--report", json, "--html", html);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("PASS", run.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(1, doc.RootElement.GetProperty("schemaVersion").GetInt32());
        Assert.Contains("<html", File.ReadAllText(html), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Optimize_under_an_error_budget_plans_ranks_meets_the_budget_and_reports_the_plan()
    {
        var output = _dir.File("budget.onnx");
        var json = _dir.File("budget.json");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("cnn.onnx"), "-o", output, "--max-error", "0.02", "--target", "params",
            "--cache-dir", _dir.File("cache"), "--validate", "--runs", "3", "--report", json);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Budget plan (relative L2 error ≤ 0.02, target params)", run.Stdout);
        Assert.Contains("PASS", run.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var planning = doc.RootElement.GetProperty("planning");
        Assert.True(planning.GetProperty("finalError").GetDouble() <= 0.02);
        Assert.True(doc.RootElement.GetProperty("outputs")[0].GetProperty("relL2Error").GetDouble() <= 0.02);
        Assert.True(new FileInfo(output).Length < new FileInfo(CliProcess.TestModel("cnn.onnx")).Length);
    }

    [Fact]
    public void Optimize_with_a_broken_threshold_exits_1_after_writing_the_model()
    {
        var output = _dir.File("t.onnx");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", output, "--rank", "1", "--validate", "--dim", "batch=1",
            "--runs", "2", "--max-rel-error", "1e-9", "--quiet");
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("validation FAILED", run.Stdout);
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void Quiet_optimize_prints_one_summary_line_however_long_the_paths()
    {
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File(new string('q', 180) + ".onnx"), "--quiet");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Single(run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Analyze_prints_energy_ranks_and_writes_json_without_writing_a_model()
    {
        var json = _dir.File("analysis.json");
        var run = CliProcess.Run("analyze", CliProcess.TestModel("mlp_gemm.onnx"), "--report", json);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("r99.9%", run.Stdout);
        Assert.Contains("Break-even", run.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var nodes = doc.RootElement.GetProperty("nodes");
        Assert.Equal(5, nodes.GetArrayLength());
        var first = nodes[0];
        Assert.Equal(4, first.GetProperty("energyRanks").GetArrayLength());
        Assert.True(first.GetProperty("breakEvenRank").GetInt32() > 0);
        Assert.Equal(["analysis.json"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Analyze_of_a_cnn_estimates_the_savings_of_each_conv_method_with_measured_flops()
    {
        var run = CliProcess.Run("analyze", CliProcess.TestModel("cnn.onnx"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("tucker2", run.Stdout);
        Assert.Contains("spatial-svd", run.Stdout);
        Assert.Contains("grouped conv", run.Stdout);
        Assert.DoesNotContain("not analyzed", run.Stdout);
        Assert.DoesNotContain("declared shapes only", run.Stdout);
    }

    [Fact]
    public void Compare_of_a_model_with_itself_passes_tight_thresholds()
    {
        var json = _dir.File("cmp.json");
        var model = CliProcess.TestModel("matmul_2d.onnx");
        var run = CliProcess.Run("compare", model, model, "--runs", "2", "--max-abs-error", "1e-6", "--min-cosine", "0.999999", "--report", json);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(json));
    }

    [Fact]
    public void Compare_exits_1_when_a_threshold_fails()
    {
        var optimized = _dir.File("low.onnx");
        Assert.Equal(0, CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", optimized, "--rank", "1", "-q").ExitCode);
        var run = CliProcess.Run("compare", CliProcess.TestModel("mlp_gemm.onnx"), optimized, "--dim", "batch=1", "--runs", "2", "--max-rel-error", "1e-6");
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("FAIL", run.Stdout);
    }

    [Fact]
    public void Output_folder_is_created()
    {
        var output = _dir.File("a/b/c/out.onnx");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("matmul_2d.onnx"), "-o", output, "-q");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(output));
    }
}
