namespace OnnxFactorize.Cli.Tests;

/// <summary>The tool packs as a dotnet tool, installs from a local folder feed and runs.</summary>
public sealed class PackTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Packed_tool_installs_from_a_local_feed_and_optimizes_a_model()
    {
        var feed = _dir.File("feed");
        var toolPath = _dir.File("tools");
        var pack = CliProcess.RunExecutable("dotnet", ["pack", "src/OnnxFactorize.Cli", "-c", "Release", "-o", feed, "-p:Version=0.1.0-test"], timeout: TimeSpan.FromMinutes(8));
        Assert.True(pack.ExitCode == 0, pack.ToString());
        Assert.True(File.Exists(Path.Combine(feed, "OnnxFactorize.Cli.0.1.0-test.nupkg")));

        var install = CliProcess.RunExecutable("dotnet", ["tool", "install", "OnnxFactorize.Cli", "--tool-path", toolPath, "--add-source", feed, "--version", "0.1.0-test"],
            workingDirectory: _dir.Path, timeout: TimeSpan.FromMinutes(5));
        Assert.True(install.ExitCode == 0, install.ToString());

        var tool = Path.Combine(toolPath, "onnx-factorize");
        var help = CliProcess.RunExecutable(tool, ["--help"]);
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("optimize", help.Stdout);

        var output = _dir.File("out/mlp.onnx");
        var optimize = CliProcess.RunExecutable(tool, ["optimize", CliProcess.TestModel("mlp_gemm.onnx"), "-o", output, "--validate", "--dim", "batch=1", "--runs", "2"]);
        Assert.True(optimize.ExitCode == 0, optimize.ToString());
        Assert.True(File.Exists(output));
    }
}
