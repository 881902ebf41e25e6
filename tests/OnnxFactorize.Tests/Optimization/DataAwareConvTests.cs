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

namespace OnnxFactorize.Tests.Optimization;

/// <summary>The k×k Conv methods fitted to data (spatial-svd, tucker2, depthwise with <see cref="DataAwareMode.Whiten"/>)
/// end to end through <see cref="Optimizer.Run"/>: images whose patches lie in a low-dimensional affine subspace are
/// reproduced on held-out images by the data-aware chain at the subspace's rank, where the weight-space chain at the same
/// rank is far off.</summary>
public sealed class DataAwareConvTests : IDisposable
{
    private const int Cin = 16, Size = 8;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // img [n, 16, 8, 8] → Conv 3×3 (no pads, bias) → y [n, co, 6, 6].
    private static OnnxModel Model(int co)
    {
        var g = new GraphProto { Name = "conv" };
        g.Input.Add(FloatInfo("img", -1, Cin, Size, Size));
        g.Output.Add(FloatInfo("y", -1, co, Size - 2, Size - 2));
        g.Initializer.Add(Tensor("W", [co, Cin, 3, 3], GraphBuilder.Random(co * Cin * 9, seed: 5)));
        g.Initializer.Add(Tensor("B", [co], GraphBuilder.Random(co, seed: 6)));
        g.Node.Add(Node("Conv", "conv", ["img", "W", "B"], ["y"], Ints("kernel_shape", 3, 3)));
        return OnnxModel.FromProto(GraphBuilder.Model(g), "conv.onnx");
    }

    // Every pixel's channel vector is c + z·U with z of `rank` dims: the channel covariance has rank `rank`.
    private static float[] ChannelSubspace(int n, int rank, int seed)
    {
        var u = GraphBuilder.Random(rank * Cin, seed: 300 + rank);
        var c = GraphBuilder.Random(Cin, seed: 400, scale: 2f);
        var z = GraphBuilder.Random(n * Size * Size * rank, seed);
        var img = new float[n * Cin * Size * Size];
        for (var b = 0; b < n; b++)
        {
            for (var p = 0; p < Size * Size; p++)
            {
                for (var ch = 0; ch < Cin; ch++)
                {
                    var v = c[ch];
                    for (var i = 0; i < rank; i++)
                    {
                        v += z[((b * Size * Size) + p) * rank + i] * u[i * Cin + ch];
                    }

                    img[(b * Cin + ch) * Size * Size + p] = v;
                }
            }
        }

        return img;
    }

    // Every channel image is affine in (h, w), a + b·h + c·w with random coefficients: each channel's 3×3 patches span 3 dims.
    private static float[] AffineImages(int n, int seed)
    {
        var coefficients = GraphBuilder.Random(n * Cin * 3, seed);
        var img = new float[n * Cin * Size * Size];
        for (var m = 0; m < n * Cin; m++)
        {
            for (var h = 0; h < Size; h++)
            {
                for (var w = 0; w < Size; w++)
                {
                    img[(m * Size + h) * Size + w] = coefficients[m * 3] + (coefficients[m * 3 + 1] * (h - 3.5f) / 4) + (coefficients[m * 3 + 2] * (w - 3.5f) / 4);
                }
            }
        }

        return img;
    }

    private static float[] Run(string model, float[] img, int n)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("img", new DenseTensor<float>(img, [n, Cin, Size, Size]))]);
        return results.First().AsTensor<float>().ToArray();
    }

    private (OptimizeReport Report, float[] Outputs) Optimize(string method, int co, int rank, DataAwareMode mode, Func<int, int, float[]> images, float[] heldOut)
    {
        var source = _dir.File($"model-{co}.onnx");
        if (!File.Exists(source))
        {
            Model(co).Save(source);
        }

        string? calibration = null;
        if (mode != DataAwareMode.None)
        {
            calibration = _dir.File($"calibration-{method}");
            Directory.CreateDirectory(calibration);
            TensorFiles.WriteNpy(Path.Combine(calibration, "img.npy"), TensorData.Create("img", [64, Cin, Size, Size], images(64, 7)));
        }

        var output = _dir.File($"{method}-{mode}.onnx");
        var report = Optimizer.Run(new OptimizeRequest
        {
            ModelPath = source,
            OutputPath = output,
            Factorize = new FactorizeOptions { RankPolicy = RankPolicy.Fixed(rank), Methods = [method], DataAware = mode },
            CalibrationInputs = calibration,
        });
        return (report, Run(output, heldOut, 4));
    }

    [Theory]
    [InlineData("spatial-svd", 12, 2, 6)] // vertical patches (16 channels × 3 rows) span 2·3 dims
    [InlineData("tucker2", 4, 4, 4)] // channels span 4 dims; r_out = C_out = 4
    [InlineData("depthwise", 12, 0, 3)] // every channel's patches span 3 dims
    public void The_data_aware_conv_chain_at_the_data_rank_reproduces_held_out_outputs_where_the_plain_one_does_not(string method, int co, int channelRank, int rank)
    {
        Func<int, int, float[]> images = channelRank > 0 ? (n, seed) => ChannelSubspace(n, channelRank, seed) : AffineImages;
        var heldOut = images(4, 31);
        var reference = Run(_dir.File($"model-{co}.onnx") is var path && File.Exists(path) ? path : Save(co), heldOut, 4);

        var (fitted, fittedOutputs) = Optimize(method, co, rank, DataAwareMode.Whiten, images, heldOut);
        var (plain, plainOutputs) = Optimize(method, co, rank, DataAwareMode.None, images, heldOut);

        var d = Assert.Single(fitted.Factorization.Decisions);
        Assert.True(d.Status == DecisionStatus.Factorized && d.Method == method && d.Mode == "whiten", $"{d.Status} {d.Method} {d.Mode}: {d.Reason}");
        Assert.Equal(rank, d.Rank);
        Assert.True(d.OutputRelError is < 1e-3, $"output error on the calibration data {d.OutputRelError}: {d.Reason}");
        var p = Assert.Single(plain.Factorization.Decisions);
        Assert.Equal((DecisionStatus.Factorized, method, string.Join(",", d.Ranks!)), (p.Status, p.Method, string.Join(",", p.Ranks!)));
        var whiteError = OrtRunner.RelativeL2(reference, fittedOutputs);
        var plainError = OrtRunner.RelativeL2(reference, plainOutputs);
        Assert.True(whiteError < 1e-4, $"{method}: data-aware rank {rank} relative L2 {whiteError} ({d.Reason})");
        Assert.True(plainError > 1e-2, $"{method}: plain rank {rank} relative L2 {plainError} (the test would not tell the modes apart)");
    }

    private string Save(int co)
    {
        var path = _dir.File($"model-{co}.onnx");
        Model(co).Save(path);
        return path;
    }
}
