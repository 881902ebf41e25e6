namespace OnnxFactorize.Cli.Tests;

/// <summary><c>--threads n</c> sets how many nodes are decomposed at once; the written model is the same for any n.</summary>
public sealed class ThreadsOptionTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Optimize_writes_the_same_bytes_with_one_thread_and_with_three()
    {
        var one = _dir.File("one.onnx");
        var three = _dir.File("three.onnx");
        var a = CliProcess.Run("optimize", CliProcess.TestModel("cnn.onnx"), "-o", one, "--rank-ratio", "0.5", "--threads", "1");
        var b = CliProcess.Run("optimize", CliProcess.TestModel("cnn.onnx"), "-o", three, "--rank-ratio", "0.5", "--threads", "3");
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.True(b.ExitCode == 0, b.ToString());
        Assert.Contains("factorized", a.Stdout);
        Assert.Equal(File.ReadAllBytes(one), File.ReadAllBytes(three));
    }

    [Fact]
    public void A_thread_count_of_zero_is_refused_with_exit_2_naming_the_option_and_the_value()
    {
        var run = CliProcess.Run("optimize", CliProcess.TestModel("cnn.onnx"), "-o", _dir.File("zero.onnx"), "--threads", "0");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("--threads", run.Stderr + run.Stdout);
        Assert.Contains("got 0", run.Stderr + run.Stdout);
    }
}
