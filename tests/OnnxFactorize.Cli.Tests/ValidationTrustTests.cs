using System.Text.Json;
using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Cli.Tests;

/// <summary>What a validation verdict means on the command line: defaults, "nothing checked", generated inputs, held-out budgets.</summary>
public sealed class ValidationTrustTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Compare_without_thresholds_checks_the_defaults_and_fails_a_damaged_model()
    {
        var damaged = _dir.File("rank1.onnx");
        Assert.Equal(0, CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", damaged, "--rank", "1", "-q").ExitCode);

        var run = CliProcess.Run("compare", CliProcess.TestModel("mlp_gemm.onnx"), damaged, "--dim", "batch=2", "--runs", "2");

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("Thresholds: maxRelL2Error 0.05 (default), minCosine 0.995 (default), minTop1Agreement 0.95 (default)", run.Stdout);
        Assert.Contains("FAIL", run.Stdout);
        Assert.DoesNotContain("PASS", run.Stdout);
    }

    [Fact]
    public void Compare_with_defaults_switched_off_and_no_threshold_says_nothing_was_checked()
    {
        var damaged = _dir.File("rank1.onnx");
        Assert.Equal(0, CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", damaged, "--rank", "1", "-q").ExitCode);
        var json = _dir.File("r.json");

        var run = CliProcess.Run("compare", CliProcess.TestModel("mlp_gemm.onnx"), damaged, "--dim", "batch=2", "--runs", "2", "--no-default-thresholds", "--report", json);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("NOT CHECKED: no thresholds set: nothing was checked.", run.Stdout);
        Assert.DoesNotContain("PASS", run.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal("unchecked", doc.RootElement.GetProperty("verdict").GetString());
        Assert.False(doc.RootElement.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void Readme_main_job_passes_on_the_default_thresholds()
    {
        var run = CliProcess.Run("optimize", CliProcess.TestModel("cnn.onnx"), "-o", _dir.File("cnn.onnx"), "--validate", "--runs", "6");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Accuracy (4 sample(s): 4 seeded random sample(s), seed 0)", run.Stdout);
        Assert.Contains("maxRelL2Error 0.05 (default)", run.Stdout);
        Assert.Contains("PASS: every threshold held.", run.Stdout);
        Assert.Contains("Speedup: ", run.Stdout);
        Assert.Contains("95 % CI", run.Stdout);
    }

    [Fact]
    public void An_integer_input_needs_a_value_a_range_or_data()
    {
        var model = IntInputModel();

        var refused = CliProcess.Run("compare", model, model, "--runs", "2");
        Assert.True(refused.ExitCode == 2, refused.ToString());
        var line = Assert.Single(refused.StderrLines);
        Assert.Contains("'sample_rate' (int64[1])", line);
        Assert.Contains("--input-value sample_rate=", line);

        var given = CliProcess.Run("compare", model, model, "--runs", "2", "--input-value", "sample_rate=16000");
        Assert.True(given.ExitCode == 0, given.ToString());
        Assert.Contains("PASS: every threshold held.", given.Stdout);
    }

    [Fact]
    public void Explicit_top1_on_outputs_that_are_not_class_scores_asks_for_a_task()
    {
        var model = CliProcess.TestModel("matmul_3d.onnx");

        var run = CliProcess.Run("compare", model, model, "--runs", "2", "--dim", "batch=1", "--dim", "seq=4", "--min-top1-agreement", "0.9");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("--task classify", Assert.Single(run.StderrLines));

        var perRow = CliProcess.Run("compare", model, model, "--runs", "2", "--dim", "batch=1", "--dim", "seq=4", "--min-top1-agreement", "0.9", "--task", "classify");
        Assert.True(perRow.ExitCode == 0, perRow.ToString());
        Assert.Contains("100.00%", perRow.Stdout);
    }

    [Fact]
    public void A_budget_is_re_checked_on_held_out_samples_with_its_margin()
    {
        var json = _dir.File("budget.json");
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", _dir.File("b.onnx"), "--max-error", "0.05", "--target", "params", "--no-latency-guard", "--dim", "batch=2",
            "--calibration-samples", "3", "--cache-dir", _dir.File("cache"), "--validate", "--runs", "2", "--report", json);

        Assert.True(run.ExitCode is 0 or 1, run.ToString());
        Assert.Contains("Budget check (relL2Error): planned", run.Stdout);
        Assert.Contains("on 3 calibration sample(s), measured", run.Stdout);
        Assert.Contains("on 4 held-out sample(s); margin", run.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var check = doc.RootElement.GetProperty("budgetCheck");
        Assert.True(check.GetProperty("heldOut").GetBoolean());
        Assert.Equal(0.05 - check.GetProperty("measured").GetDouble(), check.GetProperty("margin").GetDouble(), 12);
        Assert.Equal(doc.RootElement.GetProperty("planning").GetProperty("finalError").GetDouble(), check.GetProperty("planned").GetDouble());
    }

    [Fact]
    public void A_budget_caches_in_the_users_cache_folder_not_in_the_working_folder()
    {
        var work = _dir.File("work");
        var xdg = _dir.File("xdg");
        Directory.CreateDirectory(work);

        var run = CliProcess.RunExecutable("dotnet", [CliProcess.ToolDll, "optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", "out.onnx", "--max-error", "0.05", "--dim", "batch=1", "-q"],
            workingDirectory: work, environment: new Dictionary<string, string> { ["XDG_CACHE_HOME"] = xdg });

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(["out.onnx"], Directory.GetFileSystemEntries(work).Select(Path.GetFileName));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(xdg, "onnx-factorize"), "*", SearchOption.AllDirectories));
    }

    // y = x + float(sample_rate): an audio-style model with an int64 scalar input.
    private string IntInputModel()
    {
        var graph = new GraphProto { Name = "with_rate" };
        graph.Input.Add(Value("x", 1, 1, 8));
        graph.Input.Add(Value("sample_rate", 7, 1));
        graph.Output.Add(Value("y", 1, 1, 8));
        var cast = new NodeProto { Name = "cast", OpType = "Cast" };
        cast.Input.Add("sample_rate");
        cast.Output.Add("rate");
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        var add = new NodeProto { Name = "add", OpType = "Add" };
        add.Input.AddRange(["x", "rate"]);
        add.Output.Add("y");
        graph.Node.AddRange([cast, add]);
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        var path = _dir.File("with_rate.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static ValueInfoProto Value(string name, int elemType, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } } };
    }
}
