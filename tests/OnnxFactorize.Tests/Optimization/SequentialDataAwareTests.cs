using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Optimization;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Graph;
using OnnxFactorize.Tests.Support;
using OnnxFactorize.Tests.Validation;
using OnnxFactorize.Validation;
using static OnnxFactorize.Tests.Graph.GraphBuilder;
using TensorData = OnnxFactorize.Validation.TensorData;
using Xunit.Abstractions;

namespace OnnxFactorize.Tests.Optimization;

/// <summary>Sequential data-aware factorization end to end: on a 3-layer network whose hidden layers are cut hard, each
/// layer's last factor is refitted to the original outputs on the inputs of the model compressed so far, so the held-out
/// output error does not compound the way independent whitened fits do; its statistics are cached by content hash.</summary>
public sealed class SequentialDataAwareTests(ITestOutputHelper output) : IDisposable
{
    internal const int Width = 32;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // x [n, 32] → Gemm (W1 64×32, transB, C1) → Relu → MatMul (W2 64×64) → Relu → Gemm (W3 16×64, transB, C3) → y [n, 16].
    internal static OnnxModel Mlp()
    {
        var g = new GraphProto { Name = "sequential" };
        g.Input.Add(FloatInfo("x", -1, Width));
        g.Output.Add(FloatInfo("y", -1, 16));
        g.Initializer.Add(Tensor("W1", [64, Width], GraphBuilder.Random(64 * Width, seed: 1, scale: 0.4f)));
        g.Initializer.Add(Tensor("C1", [64], GraphBuilder.Random(64, seed: 2, scale: 0.3f)));
        g.Initializer.Add(Tensor("W2", [64, 64], GraphBuilder.Random(64 * 64, seed: 3, scale: 0.3f)));
        g.Initializer.Add(Tensor("W3", [16, 64], GraphBuilder.Random(16 * 64, seed: 4, scale: 0.3f)));
        g.Initializer.Add(Tensor("C3", [16], GraphBuilder.Random(16, seed: 5)));
        g.Node.Add(Node("Gemm", "fc1", ["x", "W1", "C1"], ["h1"], Int("transB", 1)));
        g.Node.Add(Node("Relu", "relu1", ["h1"], ["a1"]));
        g.Node.Add(Node("MatMul", "fc2", ["a1", "W2"], ["h2"]));
        g.Node.Add(Node("Relu", "relu2", ["h2"], ["a2"]));
        g.Node.Add(Node("Gemm", "fc3", ["a2", "W3", "C3"], ["y"], Int("transB", 1)));
        return OnnxModel.FromProto(Model(g), "sequential.onnx");
    }

    // Correlated inputs with a decaying spectrum: x = z·diag(1/(i+1))·U, z and U seeded.
    internal static float[] Inputs(int rows, int seed)
    {
        var u = GraphBuilder.Random(Width * Width, seed: 77);
        var z = GraphBuilder.Random(rows * Width, seed);
        var x = new float[rows * Width];
        for (var t = 0; t < rows; t++)
        {
            for (var j = 0; j < Width; j++)
            {
                var v = 0f;
                for (var i = 0; i < Width; i++)
                {
                    v += z[t * Width + i] / (i + 1) * u[i * Width + j];
                }

                x[t * Width + j] = v;
            }
        }

        return x;
    }

    private string Calibration()
    {
        var folder = _dir.File("calibration");
        Directory.CreateDirectory(folder);
        TensorFiles.WriteNpy(Path.Combine(folder, "x.npy"), TensorData.Create("x", [512, Width], Inputs(512, seed: 11)));
        return folder;
    }

    private OptimizeReport Optimize(string name, DataAwareMode mode, string? calibration, string? cache = null)
    {
        var source = _dir.File("model.onnx");
        if (!File.Exists(source))
        {
            Mlp().Save(source);
        }

        return Optimizer.Run(new OptimizeRequest
        {
            ModelPath = source,
            OutputPath = _dir.File(name),
            Factorize = new FactorizeOptions { RankPolicy = RankPolicy.Fixed(6), DataAware = mode },
            CalibrationInputs = calibration,
            CalibrationCacheDirectory = cache,
        });
    }

    internal static float[] Run(string model, float[] x, int n)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [n, Width]))]);
        return results.First().AsTensor<float>().ToArray();
    }

    [Fact]
    public void Sequential_fits_do_not_compound_their_held_out_output_error_is_at_most_the_whitened_ones()
    {
        var calibration = Calibration();
        var sequential = Optimize("sequential.onnx", DataAwareMode.Sequential, calibration);
        var whitened = Optimize("whiten.onnx", DataAwareMode.Whiten, calibration);
        Optimize("plain.onnx", DataAwareMode.None, null);

        Assert.Equal(["fc1", "fc2", "fc3"], sequential.Factorization.Decisions.Select(d => d.NodeName));
        Assert.All(sequential.Factorization.Decisions, d => Assert.Equal(("sequential", DecisionStatus.Factorized, 6), (d.Mode, d.Status, d.Rank)));
        Assert.Contains(sequential.Notes, n => n.Contains("3 node(s) in 3 group(s)", StringComparison.Ordinal) && n.Contains("3 statistics pass(es)", StringComparison.Ordinal));

        // The first node sees the original inputs: refitting its last factor changes nothing the whitened SVD had not found.
        Assert.Equal(whitened.Factorization.Decisions[0].OutputRelError!.Value, sequential.Factorization.Decisions[0].OutputRelError!.Value, 3);

        const int n = 400;
        var x = Inputs(n, seed: 12);
        var reference = Run(_dir.File("model.onnx"), x, n);
        var sequentialError = OrtRunner.RelativeL2(reference, Run(_dir.File("sequential.onnx"), x, n));
        var whitenError = OrtRunner.RelativeL2(reference, Run(_dir.File("whiten.onnx"), x, n));
        var plainError = OrtRunner.RelativeL2(reference, Run(_dir.File("plain.onnx"), x, n));
        output.WriteLine($"held-out rel. L2 vs the original: sequential {sequentialError:G4}, whiten {whitenError:G4}, plain {plainError:G4}");
        Assert.True(sequentialError <= whitenError, $"held-out rel. L2: sequential {sequentialError}, whiten {whitenError}, plain {plainError}");
        Assert.True(whitenError < plainError, $"held-out rel. L2: whiten {whitenError}, plain {plainError}");
    }

    [Fact]
    public void A_second_identical_run_takes_every_statistic_from_the_cache_and_writes_the_same_model()
    {
        var calibration = Calibration();
        var cache = _dir.File("cache");
        var first = Optimize("first.onnx", DataAwareMode.Sequential, calibration, cache);
        var files = Directory.GetFiles(cache, "calib-*.bin").Order(StringComparer.Ordinal).ToList();
        var second = Optimize("second.onnx", DataAwareMode.Sequential, calibration, cache);

        Assert.Contains(first.Notes, n => n.Contains("3 statistics pass(es)", StringComparison.Ordinal));
        Assert.Contains(second.Notes, n => n.Contains("0 statistics pass(es)", StringComparison.Ordinal) && n.Contains("3 group(s) from the statistics cache", StringComparison.Ordinal));
        Assert.Equal(3, files.Count);
        Assert.Equal(files, Directory.GetFiles(cache, "calib-*.bin").Order(StringComparer.Ordinal));
        Assert.Equal(File.ReadAllBytes(_dir.File("first.onnx")), File.ReadAllBytes(_dir.File("second.onnx")));

        // Whiten mode caches its one pass the same way: a rerun adds no file and writes the same model.
        Optimize("w1.onnx", DataAwareMode.Whiten, calibration, cache);
        var withWhiten = Directory.GetFiles(cache, "calib-*.bin").Length;
        Optimize("w2.onnx", DataAwareMode.Whiten, calibration, cache);
        Assert.Equal(3 + 3, withWhiten);
        Assert.Equal(withWhiten, Directory.GetFiles(cache, "calib-*.bin").Length);
        Assert.Equal(File.ReadAllBytes(_dir.File("w1.onnx")), File.ReadAllBytes(_dir.File("w2.onnx")));

        // Other calibration data is another key: nothing is reused.
        TensorFiles.WriteNpy(Path.Combine(calibration, "x.npy"), TensorData.Create("x", [512, Width], Inputs(512, seed: 13)));
        var third = Optimize("third.onnx", DataAwareMode.Sequential, calibration, cache);
        Assert.Contains(third.Notes, n => n.Contains("3 statistics pass(es)", StringComparison.Ordinal));
    }

    [Fact]
    public void Sequential_without_calibration_inputs_is_refused_in_one_line()
    {
        var model = _dir.File("model.onnx");
        Mlp().Save(model);
        var e = Assert.Throws<OnnxFactorizeException>(() => new OptimizeRequest
        {
            ModelPath = model,
            OutputPath = _dir.File("o.onnx"),
            Factorize = new FactorizeOptions { DataAware = DataAwareMode.Sequential },
        }.Validate());
        Assert.Contains("sequential", e.Message, StringComparison.Ordinal);
        Assert.Contains("--inputs", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }
}
