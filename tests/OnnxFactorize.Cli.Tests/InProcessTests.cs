namespace OnnxFactorize.Cli.Tests;

/// <summary>Exit codes that need control over the process's writers or its cancellation token.</summary>
public sealed class InProcessTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void An_unexpected_exception_exits_3_with_one_internal_error_line()
    {
        // A closed stdout makes the first write throw ObjectDisposedException: a failure no handler expects.
        var stdout = new StringWriter();
        stdout.Dispose();
        var stderr = new StringWriter();
        var code = CliApp.Run(["analyze", CliProcess.TestModel("matmul_2d.onnx")], stdout, stderr, plain: true, CancellationToken.None);
        Assert.Equal(3, code);
        var line = Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("internal error:", line);
        Assert.Contains("--verbose", line);
    }

    [Fact]
    public void Cancellation_before_saving_exits_130_and_leaves_no_output()
    {
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        var stderr = new StringWriter();
        var output = _dir.File("cancelled/out.onnx");
        var code = CliApp.Run(["optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", output], new StringWriter(), stderr, plain: true, cancellation.Token);
        Assert.Equal(130, code);
        Assert.Contains("cancelled", stderr.ToString());
        Assert.False(File.Exists(output));
        Assert.False(Directory.Exists(Path.GetDirectoryName(output)) && Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(output)!).Any());
    }
}
