using System.Text.Json;
using OnnxFactorize.Onnx;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Cli.Tests;

/// <summary><c>analyze --inputs</c> as a process: output-space spectra next to the weight spectra, and per node the mode,
/// weight error and output error on the calibration data, in the console and in --report.</summary>
public sealed class AnalyzeInputsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // Eight test_data_set_* samples of the CNN's [1, 3, 32, 32] input, seeded.
    private string Calibration()
    {
        var model = CliProcess.TestModel("cnn.onnx");
        var input = OnnxModel.Load(model).Proto.Graph.Input[0].Name;
        var folder = _dir.File("calibration");
        var random = new Random(11);
        for (var s = 0; s < 8; s++)
        {
            var sample = Path.Combine(folder, $"test_data_set_{s}");
            Directory.CreateDirectory(sample);
            var x = Enumerable.Range(0, 3 * 32 * 32).Select(_ => (float)random.NextDouble()).ToArray();
            TensorFiles.WriteNpy(Path.Combine(sample, "input_0.npy"), TensorData.Create(input, [1, 3, 32, 32], x));
        }

        return folder;
    }

    [Fact]
    public void Analyze_with_inputs_shows_output_space_ranks_and_the_errors_of_the_data_aware_plans()
    {
        var json = _dir.File("analysis.json");
        var calibration = Calibration();

        var run = CliProcess.Run("analyze", CliProcess.TestModel("cnn.onnx"), "--inputs", calibration, "--rank-ratio", "0.5", "--report", json);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Weight vs output space", run.Stdout);
        Assert.Contains("Output r90/95/99/99.9%", run.Stdout);
        Assert.Contains("whiten", run.Stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(calibration, doc.RootElement.GetProperty("calibrationInputs").GetString());
        var nodes = doc.RootElement.GetProperty("nodes").EnumerateArray().ToList();
        var fitted = nodes.Where(n => n.GetProperty("mode").GetString() == "whiten").ToList();

        // A k×k conv with explicit pads, the 1×1 conv and the Gemm head are fitted to the data; SAME_* convs are not.
        Assert.True(fitted.Count >= 3, string.Join("; ", nodes.Select(n => $"{n.GetProperty("nodeName")}: {n.GetProperty("mode")} {n.GetProperty("reason")}")));
        Assert.Contains(fitted, n => n.GetProperty("weightShape").EnumerateArray().Skip(2).Any(d => d.GetInt64() > 1));
        foreach (var n in fitted)
        {
            Assert.Equal(4, n.GetProperty("outputEnergyRanks").GetArrayLength());
            Assert.InRange(n.GetProperty("outputRelError").GetDouble(), 0, 1);
            Assert.True(n.GetProperty("weightRelError").GetDouble() > 0);
        }

        Assert.Contains(nodes, n => n.GetProperty("mode").GetString() == "plain" && n.GetProperty("outputEnergyRanks").GetArrayLength() == 0);
    }

    [Fact]
    public void Analyze_with_missing_inputs_fails_with_exit_2_in_one_line()
    {
        var run = CliProcess.Run("analyze", CliProcess.TestModel("cnn.onnx"), "--inputs", _dir.File("no-such-folder"));

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("no-such-folder", run.Stderr);
        Assert.Single(run.Stderr.Trim().Split('\n'));
    }
}
