using System.Diagnostics;

namespace OnnxFactorize.MSBuild.Tests;

public sealed class CommandLineTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("", "\"\"")]
    [InlineData("/tmp/my models/a b.onnx", "\"/tmp/my models/a b.onnx\"")]
    [InlineData(@"C:\My Models\", "\"C:\\My Models\\\\\"")]
    [InlineData(@"C:\models\a.onnx", @"C:\models\a.onnx")]
    [InlineData("say \"hi\"", "\"say \\\"hi\\\"\"")]
    [InlineData("^enc.*(q|k)$", "^enc.*(q|k)$")]
    public void Quotes_only_what_needs_quotes(string arg, string expected)
    {
        Assert.Equal(expected, CommandLine.Quote(arg));
    }

    [Fact]
    public void A_started_process_receives_every_argument_unchanged()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        // .NET splits ProcessStartInfo.Arguments with the same rules on every OS, so printf shows what the tool would get.
        string[] args = ["/tmp/my models/a b.onnx", @"C:\My Models\", "say \"hi\"", "", "tab\there", @"back\\slash\", "name=\"x y\""];
        var info = new ProcessStartInfo("printf", CommandLine.Join(["%s\\n", .. args])) { RedirectStandardOutput = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(args, output.Split('\n')[..^1]);
    }
}
