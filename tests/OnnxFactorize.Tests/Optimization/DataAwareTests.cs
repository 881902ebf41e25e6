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

/// <summary>Data-aware factorization end to end through <see cref="Optimizer.Run"/>: inputs that lie in an affine rank-r
/// subspace (x = z·U + c) are reproduced exactly by a rank-r factorization fitted to them (whitened SVD on the centered
/// Gram, bias correction for the offset c), where the weight-space SVD at the same rank is far off.</summary>
public sealed class DataAwareTests : IDisposable
{
    private const int R = 4;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // x [n, 32] → Gemm (W1 24×32 transB, C [24], alpha 0.5, beta 2) → y1; x → MatMul (W2 32×20) → y2;
    // img [n, 16, 5, 5] → 1×1 Conv stride 2 (W3 12×16, no bias) → y3.
    private static OnnxModel Model3()
    {
        var g = new GraphProto { Name = "data-aware" };
        g.Input.Add(FloatInfo("x", -1, 32));
        g.Input.Add(FloatInfo("img", -1, 16, 5, 5));
        g.Output.Add(FloatInfo("y1", -1, 24));
        g.Output.Add(FloatInfo("y2", -1, 20));
        g.Output.Add(FloatInfo("y3", -1, 12, 3, 3));
        g.Initializer.Add(Tensor("W1", [24, 32], GraphBuilder.Random(24 * 32, seed: 1)));
        g.Initializer.Add(Tensor("C1", [24], GraphBuilder.Random(24, seed: 2)));
        g.Initializer.Add(Tensor("W2", [32, 20], GraphBuilder.Random(32 * 20, seed: 3)));
        g.Initializer.Add(Tensor("W3", [12, 16, 1, 1], GraphBuilder.Random(12 * 16, seed: 4)));
        g.Node.Add(Node("Gemm", "gemm", ["x", "W1", "C1"], ["y1"], Int("transB", 1), Float("alpha", 0.5f), Float("beta", 2f)));
        g.Node.Add(Node("MatMul", "mm", ["x", "W2"], ["y2"]));
        g.Node.Add(Node("Conv", "conv", ["img", "W3"], ["y3"], Ints("kernel_shape", 1, 1), Ints("strides", 2, 2)));
        return OnnxModel.FromProto(Model(g), "data-aware.onnx");
    }

    // Rows z·U + c with z of `rank` dims (seeded), U and c fixed by the width: an affine rank-`rank` subspace, not through 0.
    private static float[] AffineRows(int rows, int width, int rank, int seed)
    {
        var u = GraphBuilder.Random(rank * width, seed: 100 + width);
        var c = GraphBuilder.Random(width, seed: 200 + width, scale: 2f);
        var z = GraphBuilder.Random(rows * rank, seed);
        var x = new float[rows * width];
        for (var t = 0; t < rows; t++)
        {
            for (var j = 0; j < width; j++)
            {
                var v = c[j];
                for (var i = 0; i < rank; i++)
                {
                    v += z[t * rank + i] * u[i * width + j];
                }

                x[t * width + j] = v;
            }
        }

        return x;
    }

    // img [n, 16, 5, 5] whose channel vector at every position lies in the affine subspace of width 16.
    private static float[] AffineImages(int n, int seed)
    {
        var pixels = AffineRows(n * 25, 16, R, seed);
        var img = new float[n * 16 * 25];
        for (var b = 0; b < n; b++)
        {
            for (var p = 0; p < 25; p++)
            {
                for (var ch = 0; ch < 16; ch++)
                {
                    img[(b * 16 + ch) * 25 + p] = pixels[(b * 25 + p) * 16 + ch];
                }
            }
        }

        return img;
    }

    private string WriteCalibration(int seed)
    {
        var folder = _dir.File("calibration");
        Directory.CreateDirectory(folder);
        TensorFiles.WriteNpy(Path.Combine(folder, "x.npy"), TensorData.Create("x", [64, 32], AffineRows(64, 32, R, seed)));
        TensorFiles.WriteNpy(Path.Combine(folder, "img.npy"), TensorData.Create("img", [8, 16, 5, 5], AffineImages(8, seed + 1)));
        return folder;
    }

    private static Dictionary<string, float[]> Run(string model, float[] x, float[] img, int n)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [n, 32])),
            NamedOnnxValue.CreateFromTensor("img", new DenseTensor<float>(img, [n, 16, 5, 5])),
        ]);
        return results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }

    private OptimizeReport Optimize(string name, DataAwareMode mode, string? calibration)
    {
        var source = _dir.File("model.onnx");
        if (!File.Exists(source))
        {
            Model3().Save(source);
        }

        return Optimizer.Run(new OptimizeRequest
        {
            ModelPath = source,
            OutputPath = _dir.File(name),
            Factorize = new FactorizeOptions { RankPolicy = RankPolicy.Fixed(R), DataAware = mode },
            CalibrationInputs = calibration,
        });
    }

    [Fact]
    public void Whitened_factors_at_the_data_rank_reproduce_every_output_on_held_out_data_where_plain_svd_does_not()
    {
        var calibration = WriteCalibration(seed: 7);
        var whitened = Optimize("whiten.onnx", DataAwareMode.Whiten, calibration);
        var plain = Optimize("plain.onnx", DataAwareMode.None, null);

        foreach (var d in whitened.Factorization.Decisions)
        {
            Assert.True(d.Status == DecisionStatus.Factorized && d.Rank == R, $"{d.NodeName}: {d.Status} rank {d.Rank}: {d.Reason}");
            Assert.Equal("whiten", d.Mode);
            Assert.True(d.OutputRelError is < 1e-3, $"{d.NodeName}: predicted output error {d.OutputRelError}");
        }

        Assert.All(plain.Factorization.Decisions, d => Assert.Equal(("plain", (double?)null), (d.Mode, d.OutputRelError)));

        // Held-out data from the same subspace (other seeds).
        const int n = 10;
        var (x, img) = (AffineRows(n, 32, R, seed: 31), AffineImages(n, seed: 32));
        var reference = Run(_dir.File("model.onnx"), x, img, n);
        var fitted = Run(_dir.File("whiten.onnx"), x, img, n);
        var weightSpace = Run(_dir.File("plain.onnx"), x, img, n);
        foreach (var output in new[] { "y1", "y2", "y3" })
        {
            var whiteError = OrtRunner.RelativeL2(reference[output], fitted[output]);
            var plainError = OrtRunner.RelativeL2(reference[output], weightSpace[output]);
            Assert.True(whiteError < 1e-4, $"{output}: whitened rank-{R} relative L2 {whiteError}");
            Assert.True(plainError > 1e-2, $"{output}: plain rank-{R} relative L2 {plainError} (the test would not tell the modes apart)");
        }
    }

    [Fact]
    public void The_bias_shift_goes_into_gemm_c_and_the_conv_bias_and_a_matmul_gets_an_add()
    {
        Optimize("whiten.onnx", DataAwareMode.Whiten, WriteCalibration(seed: 7));

        var graph = OnnxModel.Load(_dir.File("whiten.onnx")).Proto.Graph;
        var ops = graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(1, ops.Count(o => o == "Add"));
        var gemm = graph.Node.Single(n => n.OpType == "Gemm");
        Assert.Equal(3, gemm.Input.Count);
        Assert.DoesNotContain(gemm.Attribute, a => a.Name == "beta");
        var convs = graph.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(2, convs.Count);
        Assert.Equal(3, convs[^1].Input.Count);
        Assert.Contains(graph.Node, n => n.OpType == "Add" && n.Input[0].StartsWith("y2", StringComparison.Ordinal));
    }

    [Fact]
    public void Data_aware_without_calibration_inputs_or_sequential_with_a_budget_is_refused_in_one_line()
    {
        var model = _dir.File("model.onnx");
        Model3().Save(model);
        var whiten = new FactorizeOptions { DataAware = DataAwareMode.Whiten };

        var noInputs = Assert.Throws<OnnxFactorizeException>(() => new OptimizeRequest { ModelPath = model, OutputPath = _dir.File("o.onnx"), Factorize = whiten }.Validate());
        Assert.Contains("--inputs", noInputs.Message, StringComparison.Ordinal);
        var budget = Assert.Throws<OnnxFactorizeException>(() => new OptimizeRequest
        {
            ModelPath = model,
            OutputPath = _dir.File("o.onnx"),
            Factorize = new FactorizeOptions { DataAware = DataAwareMode.Sequential },
            CalibrationInputs = _dir.Path,
            Budget = new OnnxFactorize.Planning.BudgetOptions { MaxError = 0.05 },
        }.Validate());
        Assert.Contains("budget", budget.Message, StringComparison.Ordinal);
        var unused = Assert.Throws<OnnxFactorizeException>(() => new OptimizeRequest { ModelPath = model, OutputPath = _dir.File("o.onnx"), CalibrationInputs = _dir.Path }.Validate());
        Assert.Contains("only read by data-aware", unused.Message, StringComparison.Ordinal);
        Assert.All(new[] { noInputs, budget, unused }, e => Assert.DoesNotContain('\n', e.Message));
    }
}
