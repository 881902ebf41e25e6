namespace OnnxFactorize.Cli.Tests;

/// <summary>Every bad-usage and bad-input case exits 2 with exactly one line on stderr that names the problem, and no stack trace.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public BadInputTests()
    {
        File.WriteAllText(_dir.File("garbage.onnx"), "this is not a protobuf model");
        File.WriteAllText(_dir.File("a-file"), "a regular file used where a folder is expected");
    }

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string[]> Cases => new()
    {
        { "Unrecognized command or argument '--no-such-option'", ["optimize", "{mlp}", "-o", "{out}", "--no-such-option"] },
        { "Unrecognized command or argument 'extra'", ["analyze", "{mlp}", "extra"] },
        { "Required command was not provided", [] },
        { "--output", ["optimize", "{mlp}"] },
        { "--energy and --rank conflict", ["optimize", "{mlp}", "-o", "{out}", "--energy", "0.9", "--rank", "3"] },
        { "--rank-ratio and --compression conflict", ["analyze", "{mlp}", "--rank-ratio", "0.5", "--compression", "0.5"] },
        { "abc", ["optimize", "{mlp}", "-o", "{out}", "--energy", "abc"] },
        { "energy must be in (0, 1], got 1.5", ["optimize", "{mlp}", "-o", "{out}", "--energy", "1.5"] },
        { "rank-multiple must be at least 1", ["optimize", "{mlp}", "-o", "{out}", "--rank-multiple", "0"] },
        { "--tucker-ranks 'magic' is unknown", ["optimize", "{mlp}", "-o", "{out}", "--tucker-ranks", "magic"] },
        { "--target only applies with a budget", ["optimize", "{mlp}", "-o", "{out}", "--target", "params"] },
        { "--rank conflicts with --max-error", ["optimize", "{mlp}", "-o", "{out}", "--max-error", "0.02", "--rank", "4"] },
        { "--max-error and --min-top1-agreement conflict", ["optimize", "{mlp}", "-o", "{out}", "--max-error", "0.02", "--min-top1-agreement", "0.9"] },
        { "target 'speed' is unknown", ["optimize", "{mlp}", "-o", "{out}", "--max-error", "0.02", "--target", "speed"] },
        { "--inputs only applies with --validate", ["optimize", "{mlp}", "-o", "{out}", "--inputs", "{dir}"] },
        { "data-aware factorization (whiten) fits the factors to real data; give calibration inputs (--inputs", ["optimize", "{mlp}", "-o", "{out}", "--data-aware", "whiten"] },
        { "data-aware factorization (sequential) fits the factors to real data; give calibration inputs (--inputs", ["optimize", "{mlp}", "-o", "{out}", "--data-aware", "sequential"] },
        { "--data-aware 'magic' is unknown", ["optimize", "{mlp}", "-o", "{out}", "--data-aware", "magic"] },
        { "method 'qr' is unknown", ["optimize", "{mlp}", "-o", "{out}", "--method", "qr"] },
        { "op 'Add' is not supported", ["optimize", "{mlp}", "-o", "{out}", "--op", "Gemm,Add"] },
        { "--only '(' is not a valid regular expression", ["optimize", "{mlp}", "-o", "{out}", "--only", "("] },
        { "--html only applies with --validate", ["optimize", "{mlp}", "-o", "{out}", "--html", "{dir}/r.html"] },
        { "Dim binding 'batch' is not name=value", ["optimize", "{mlp}", "-o", "{out}", "--validate", "--dim", "batch"] },
        { "Threshold minCosine is 2", ["compare", "{mlp}", "{mlp}", "--min-cosine", "2"] },
        { "Unbound dims: 'batch'", ["compare", "{mlp}", "{mlp}"] },
        { "garbage.onnx", ["optimize", "{dir}/garbage.onnx", "-o", "{out}"] },
        { "file not found", ["optimize", "{dir}/missing.onnx", "-o", "{out}"] },
        { "is a folder", ["optimize", "{dir}", "-o", "{out}"] },
        { "is a folder", ["analyze", "{dir}"] },
        { "is a folder", ["compare", "{dir}", "{mlp}"] },
        { "is the same file as the input model", ["optimize", "{mlp}", "-o", "{mlp}"] },
        { "is the same file as the input model", ["optimize", "{mlp}", "-o", "{mlpOtherSpelling}"] },
        { "a-file", ["optimize", "{mlp}", "-o", "{dir}/a-file/sub/out.onnx"] },
        { "Input path", ["compare", "{mlp}", "{mlp}", "--dim", "batch=1", "--inputs", "{dir}/no-inputs"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_usage_or_input_exits_2_with_one_line_naming_the_problem(string expected, string[] args)
    {
        var mlp = CliProcess.TestModel("mlp_gemm.onnx");
        var otherSpelling = Path.Combine(CliProcess.RepoRoot, "testmodels", "..", "testmodels", ".", "mlp_gemm.onnx");
        var resolved = args.Select(a => a
            .Replace("{mlpOtherSpelling}", otherSpelling, StringComparison.Ordinal)
            .Replace("{mlp}", mlp, StringComparison.Ordinal)
            .Replace("{out}", _dir.File("out.onnx"), StringComparison.Ordinal)
            .Replace("{dir}", _dir.Path, StringComparison.Ordinal)).ToArray();
        var run = CliProcess.Run(resolved);
        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(run.StderrLines);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.False(File.Exists(_dir.File("out.onnx")), "no output is written on bad input");
    }

    [Fact]
    public void Verbose_adds_the_stack_trace_to_the_error_line()
    {
        var run = CliProcess.Run("optimize", _dir.File("garbage.onnx"), "-o", _dir.File("out.onnx"), "--verbose");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error: ", run.Stderr);
        Assert.Contains("   at ", run.Stderr);
    }

    [Fact]
    public void Output_under_proc_is_refused_with_exit_2()
    {
        var run = CliProcess.Run("optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", "/proc/onnx-factorize-test/out.onnx");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Single(run.StderrLines);
    }
}
