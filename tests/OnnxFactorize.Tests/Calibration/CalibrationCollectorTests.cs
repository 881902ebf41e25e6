using OnnxFactorize.Calibration;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Tests.Graph;
using OnnxFactorize.Validation;
using static OnnxFactorize.Tests.Graph.GraphBuilder;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Tests.Calibration;

public class CalibrationCollectorTests
{
    // x [batch, 3, 6] → Relu → r → MatMul W (6×5) → y.
    private static OnnxModel MatMulModel()
    {
        var g = new GraphProto { Name = "mm" };
        g.Input.Add(FloatInfo("x", -1, 3, 6));
        g.Output.Add(FloatInfo("y", -1, 3, 5));
        g.Initializer.Add(Tensor("W", [6, 5], GraphBuilder.Random(30, seed: 1)));
        g.Node.Add(Node("Relu", "relu", ["x"], ["r"]));
        g.Node.Add(Node("MatMul", "mm", ["r", "W"], ["y"]));
        return OnnxModel.FromProto(Model(g), "mm.onnx");
    }

    // img [batch, 2, 7, 6] → Relu → r → Conv (weight 4×2×kh×kw, the given geometry) → y.
    private static OnnxModel ConvModel(ConvPatchGeometry geometry, out float[] weight)
    {
        var (kh, kw) = (geometry.KernelHeight, geometry.KernelWidth);
        weight = GraphBuilder.Random(4 * 2 * kh * kw, seed: 2);
        var g = new GraphProto { Name = "conv" };
        g.Input.Add(FloatInfo("img", -1, 2, 7, 6));
        g.Output.Add(new ValueInfoProto { Name = "y" });
        g.Initializer.Add(Tensor("W", [4, 2, kh, kw], weight));
        g.Node.Add(Node("Relu", "relu", ["img"], ["r"]));
        g.Node.Add(Node("Conv", "conv", ["r", "W"], ["y"],
            Ints("kernel_shape", kh, kw), Ints("strides", geometry.StrideHeight, geometry.StrideWidth),
            Ints("dilations", geometry.DilationHeight, geometry.DilationWidth),
            Ints("pads", geometry.PadTop, geometry.PadLeft, geometry.PadBottom, geometry.PadRight)));
        return OnnxModel.FromProto(Model(g), "conv.onnx");
    }

    private static List<Sample> Samples(string input, long[] shape, int count, int seed) =>
        [.. Enumerable.Range(0, count).Select(s => new Sample
        {
            Source = $"sample {s}",
            Inputs = [TensorData.Create(input, shape, GraphBuilder.Random((int)TensorData.ElementCountOf(shape), seed + s))],
        })];

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<double> actual, double relative, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * scale, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
        }
    }

    [Fact]
    public void The_gram_of_a_matmul_input_from_onnx_runtime_equals_the_gram_computed_by_hand_over_streamed_batches()
    {
        var samples = Samples("x", [5, 3, 6], count: 3, seed: 10);

        var stats = CalibrationCollector.Collect(MatMulModel(), [ActivationRequest.LastAxis("r"), ActivationRequest.LastAxis("x")], samples,
            new CalibrationOptions { BatchSize = 2 });

        // r = Relu(x); rows are all leading dims flattened: 3 samples × 5 × 3 = 45 rows of length 6.
        var rows = samples.SelectMany(s => ((float[])s.Inputs[0].Data).Select(v => (double)Math.Max(v, 0f))).ToArray();
        var gram = new double[36];
        var sum = new double[6];
        for (var t = 0; t < rows.Length / 6; t++)
        {
            for (var i = 0; i < 6; i++)
            {
                sum[i] += rows[t * 6 + i];
                for (var j = 0; j < 6; j++)
                {
                    gram[i * 6 + j] += rows[t * 6 + i] * rows[t * 6 + j];
                }
            }
        }

        var r = stats["r"].Inputs;
        Assert.Equal(45, r.Count);
        Assert.Null(stats["r"].Channels);
        AssertClose(gram, r.Gram(), 1e-6, "gram");
        AssertClose(sum.Select(s => s / 45).ToArray(), r.Mean(), 1e-6, "mean");
        Assert.Equal(45, stats["x"].Inputs.Count);
    }

    public static TheoryData<int, int, int, int, int, int, int, int, int, int> Geometries => new()
    {
        // kh, kw, stride h/w, dilation h/w, pads top/left/bottom/right
        { 3, 3, 2, 2, 1, 1, 1, 1, 1, 1 },
        { 3, 2, 1, 2, 2, 1, 0, 1, 2, 0 },
        { 1, 1, 1, 1, 1, 1, 0, 0, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void The_patch_gram_of_a_conv_input_reproduces_the_conv_output_gram_that_onnx_runtime_computes(
        int kh, int kw, int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr)
    {
        var geometry = new ConvPatchGeometry
        {
            KernelHeight = kh, KernelWidth = kw, StrideHeight = sh, StrideWidth = sw, DilationHeight = dh, DilationWidth = dw,
            PadTop = pt, PadLeft = pl, PadBottom = pb, PadRight = pr,
        };
        var model = ConvModel(geometry, out var weight);
        var samples = Samples("img", [3, 2, 7, 6], count: 2, seed: 20);

        var stats = CalibrationCollector.Collect(model, [ActivationRequest.ConvPatches("r", geometry), ActivationRequest.LastAxis("y")], samples,
            new CalibrationOptions { BatchSize = 2 });

        // y[o, p, q] = W_o · patch(p, q), so Σ_positions y yᵀ = W · PatchGram · Wᵀ with W flattened to 4×(2·kh·kw).
        // The Conv output's channel Gram is computed independently here from ONNX Runtime's y.
        var patch = 2 * kh * kw;
        Assert.Equal(patch, stats["r"].Inputs.Dimension);
        var (oh, ow) = geometry.OutputSize(7, 6);
        Assert.Equal(6L * oh * ow, stats["r"].Inputs.Count);
        var pg = stats["r"].Inputs.Gram();
        var predicted = new double[16];
        for (var a = 0; a < 4; a++)
        {
            for (var b = 0; b < 4; b++)
            {
                for (var i = 0; i < patch; i++)
                {
                    for (var j = 0; j < patch; j++)
                    {
                        predicted[a * 4 + b] += weight[a * patch + i] * pg[i * patch + j] * weight[b * patch + j];
                    }
                }
            }
        }

        var outputs = samples.Select(s => OrtRunner(model, s)).ToList();
        var measured = new double[16];
        foreach (var y in outputs)
        {
            var positions = y.Length / (3 * 4);
            Assert.Equal(oh * ow, positions);
            for (var image = 0; image < 3; image++)
            {
                for (var p = 0; p < positions; p++)
                {
                    for (var a = 0; a < 4; a++)
                    {
                        for (var b = 0; b < 4; b++)
                        {
                            measured[a * 4 + b] += (double)y[(image * 4 + a) * positions + p] * y[(image * 4 + b) * positions + p];
                        }
                    }
                }
            }
        }

        AssertClose(measured, predicted, 1e-5, "output gram");

        // Channel statistics: per-position channel vectors of r = Relu(img), 6 images × 42 positions.
        var channels = stats["r"].Channels!;
        Assert.Equal(2, channels.Dimension);
        Assert.Equal(6L * 42, channels.Count);
        var c0 = samples.SelectMany(s => Enumerable.Range(0, 3).SelectMany(img => ((float[])s.Inputs[0].Data).Skip(img * 84).Take(42))).Select(v => Math.Max(v, 0f)).ToArray();
        Assert.Equal(c0.Average(v => (double)v), channels.Mean()[0], 6);
    }

    private static float[] OrtRunner(OnnxModel model, Sample sample)
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model.ToBytes());
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory((float[])sample.Inputs[0].Data, [.. sample.Inputs[0].Shape]);
        using var results = session.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), ["img"], [input], ["y"]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void Cached_statistics_are_served_without_running_the_model_again()
    {
        var folder = Directory.CreateTempSubdirectory("calib-cache-");
        try
        {
            var options = new CalibrationOptions { CacheDirectory = folder.FullName };
            var samples = Samples("x", [4, 3, 6], count: 2, seed: 30);
            var first = CalibrationCollector.Collect(MatMulModel(), [ActivationRequest.LastAxis("r")], samples, options, inputsHash: "inputs-1");

            var second = CalibrationCollector.Collect(MatMulModel(), [ActivationRequest.LastAxis("r")], NeverEnumerated(), options, inputsHash: "inputs-1");

            Assert.Equal(first["r"].Inputs.Gram(), second["r"].Inputs.Gram());
            Assert.Equal(first["r"].Inputs.Count, second["r"].Inputs.Count);
            Assert.Single(folder.GetFiles("calib-*.bin"));

            // Other inputs: a different key, so the model runs again.
            Assert.Throws<InvalidOperationException>(() => CalibrationCollector.Collect(MatMulModel(), [ActivationRequest.LastAxis("r")], NeverEnumerated(), options, inputsHash: "inputs-2"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static IEnumerable<Sample> NeverEnumerated()
    {
        throw new InvalidOperationException("samples were enumerated");
#pragma warning disable CS0162 // an iterator needs a yield to be lazy
        yield break;
#pragma warning restore CS0162
    }

    [Fact]
    public void An_unknown_value_or_a_constant_is_refused_with_a_message_naming_it()
    {
        var samples = Samples("x", [1, 3, 6], count: 1, seed: 40);
        var unknown = Assert.Throws<OnnxFactorizeException>(() => CalibrationCollector.Collect(MatMulModel(), [ActivationRequest.LastAxis("nope")], samples));
        Assert.Contains("'nope'", unknown.Message, StringComparison.Ordinal);
        var constant = Assert.Throws<OnnxFactorizeException>(() => CalibrationCollector.Collect(MatMulModel(), [ActivationRequest.LastAxis("W")], samples));
        Assert.Contains("constant", constant.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Samples_stream_from_a_folder_of_test_data_sets_and_hash_by_content()
    {
        var folder = Directory.CreateTempSubdirectory("calib-inputs-");
        try
        {
            foreach (var (sample, index) in Samples("x", [2, 3, 6], count: 3, seed: 50).Select((s, i) => (s, i)))
            {
                var set = Directory.CreateDirectory(Path.Combine(folder.FullName, $"test_data_set_{index}"));
                TensorFiles.WriteNpy(Path.Combine(set.FullName, "input_0.npy"), sample.Inputs[0]);
            }

            var stats = CalibrationCollector.Collect(MatMulModel(), [ActivationRequest.LastAxis("r")], CalibrationInputs.Stream(folder.FullName));
            var hash = CalibrationInputs.Hash(folder.FullName);

            Assert.Equal(3 * 2 * 3, stats["r"].Inputs.Count);
            Assert.Equal(hash, CalibrationInputs.Hash(folder.FullName));
            File.WriteAllBytes(Path.Combine(folder.FullName, "test_data_set_0", "input_0.npy"), [1, 2, 3]);
            Assert.NotEqual(hash, CalibrationInputs.Hash(folder.FullName));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
