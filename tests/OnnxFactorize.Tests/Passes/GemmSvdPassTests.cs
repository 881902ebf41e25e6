using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Support;
using static OnnxFactorize.Tests.Graph.GraphBuilder;
using static OnnxFactorize.Tests.Passes.PassTestKit;

namespace OnnxFactorize.Tests.Passes;

public class GemmSvdPassTests
{
    private const int M = 6;
    private const int K = 40;
    private const int N = 30;

    /// <summary>Bias shapes by name: n, 1n, mn, scalar, none.</summary>
    private static ModelProto GemmModel(bool transA, bool transB, float alpha, float beta, string bias, long opset = 17)
    {
        var w = LowRank(K, N, 4, 11);
        var stored = transB ? Transpose(w, K, N) : w;
        var g = new GraphProto { Name = "gemm" };
        g.Input.Add(FloatInfo("A", transA ? [K, M] : [M, K]));
        g.Initializer.Add(Tensor("B", transB ? [N, K] : [K, N], stored));
        var inputs = new List<string> { "A", "B" };
        long[]? biasShape = bias switch
        {
            "n" => [N],
            "1n" => [1, N],
            "mn" => [M, N],
            "scalar" => [],
            _ => null,
        };
        if (biasShape is not null)
        {
            g.Initializer.Add(Tensor("C", biasShape, Gaussian((int)biasShape.Aggregate(1L, (a, b) => a * b), 12)));
            inputs.Add("C");
        }

        g.Node.Add(Node("Gemm", "gemm", [.. inputs], ["Y"], Int("transA", transA ? 1 : 0), Int("transB", transB ? 1 : 0), Float("alpha", alpha), Float("beta", beta)));
        g.Output.Add(FloatInfo("Y", M, N));
        return Model(g, opset);
    }

    private static float[] Transpose(float[] w, int rows, int cols)
    {
        var t = new float[w.Length];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                t[(j * rows) + i] = w[(i * cols) + j];
            }
        }

        return t;
    }

    [Theory]
    [InlineData(false, false, 1f, 1f, "n")]
    [InlineData(false, true, 1f, 1f, "n")]
    [InlineData(true, false, 1f, 1f, "1n")]
    [InlineData(true, true, 0.5f, 2f, "mn")]
    [InlineData(false, true, 0.5f, 2f, "scalar")]
    [InlineData(false, false, 1.5f, 1f, "none")]
    [InlineData(true, true, -2f, 0.25f, "none")]
    public void Every_gemm_attribute_combination_keeps_its_meaning_at_the_weights_rank(bool transA, bool transB, float alpha, float beta, string bias)
    {
        var (result, error) = FactorizeAndCompare(GemmModel(transA, transB, alpha, beta, bias), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });

        var decision = Assert.Single(result.Decisions);
        Assert.Equal(DecisionStatus.Factorized, decision.Status);
        Assert.True(error < 1e-4, $"relative error {error}");
        Assert.Equal(4 * (K + N), decision.ParamsAfter);
        Assert.Equal(2L * M * K * N, decision.FlopsBefore);
        Assert.Equal(2L * M * 4 * (K + N), decision.FlopsAfter);
    }

    [Fact]
    public void Gemm_of_opset_9_with_transA_uses_an_explicit_transpose()
    {
        var (result, error) = FactorizeAndCompare(GemmModel(true, true, 1f, 1f, "n", opset: 9), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });

        Assert.True(error < 1e-4, $"relative error {error}");
        Assert.Contains(result.Model.Proto.Graph.Node, n => n.OpType == "Transpose");
    }

    [Fact]
    public void The_mlp_test_model_is_factorized_at_energy_0_99_with_small_output_error()
    {
        var path = Path.Combine(RepoPaths.TestModels, "mlp_gemm.onnx");
        var result = Factorizer.Run(OnnxModel.Load(path), new FactorizeOptions());

        Assert.Contains(result.Decisions, d => d.Status == DecisionStatus.Factorized);
        AssertErrorWithinWeightError(CompareOnRandomInputs(path, result), result);
    }

    [Fact]
    public void A_gemm_and_a_conv_inside_if_branches_are_reached_and_the_gemm_is_factorized()
    {
        var path = Path.Combine(RepoPaths.TestModels, "if_subgraph.onnx");
        var result = Factorizer.Run(OnnxModel.Load(path), new FactorizeOptions { Ops = ["Gemm"], RankPolicy = RankPolicy.Ratio(0.5) });

        var decision = Assert.Single(result.Decisions);
        Assert.Equal(DecisionStatus.Factorized, decision.Status);
        Assert.NotEqual("", decision.GraphPath);
        foreach (var branch in new[] { true, false })
        {
            var before = OrtRunner.RunOnRandomInputs(path, 3, branch);
            var after = OrtRunner.RunOnRandomInputs(result.Model.ToBytes(), 3, branch);
            Assert.All(before.Keys, k => Assert.True(OrtRunner.RelativeL2(before[k], after[k]) < 0.5));
        }
    }

    [Fact]
    public void Fp16_weights_are_decomposed_and_stored_as_fp16_factors()
    {
        var path = Path.Combine(RepoPaths.TestModels, "fp16.onnx");
        var result = Factorizer.Run(OnnxModel.Load(path), new FactorizeOptions { RankPolicy = RankPolicy.Energy(0.99) });

        Assert.Contains(result.Decisions, d => d.Status == DecisionStatus.Factorized);
        var factors = result.Model.Proto.Graph.Initializer.Where(t => t.Name.Contains("_svd_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(factors);
        Assert.All(factors, t => Assert.Equal((int)TensorProto.Types.DataType.Float16, t.DataType));
        AssertErrorWithinWeightError(CompareOnRandomInputs(path, result), result, fp16Slack: 0.01);
    }

    [Fact]
    public void A_model_with_external_data_is_factorized_from_its_data_file()
    {
        var path = Path.Combine(RepoPaths.TestModels, "external_data.onnx");
        var result = Factorizer.Run(OnnxModel.Load(path), new FactorizeOptions { RankPolicy = RankPolicy.Energy(0.99) });

        Assert.Contains(result.Decisions, d => d.Status == DecisionStatus.Factorized);
        AssertErrorWithinWeightError(CompareOnRandomInputs(path, result), result);
    }

    [Theory]
    [MemberData(nameof(RealModels.Ids), MemberType = typeof(RealModels))]
    public void Real_models_factorized_at_energy_0_99_load_in_onnx_runtime_and_stay_close(string id)
    {
        var path = RealModels.Path(id);
        var result = Factorizer.Run(OnnxModel.Load(path), new FactorizeOptions { Ops = ["Gemm", "MatMul"] });

        var error = CompareOnRandomInputs(path, result);
        Assert.True(error < 0.1, $"{id}: relative L2 output error {error}");
    }

    /// <summary>Energy 0.99 leaves a relative weight error of up to 0.1 per layer; the output error of a few stacked layers
    /// stays within a small multiple of the largest one.</summary>
    private static void AssertErrorWithinWeightError(double error, FactorizationResult result, double fp16Slack = 0)
    {
        var worst = result.Decisions.Where(d => d.Status == DecisionStatus.Factorized).Max(d => d.WeightRelError);
        Assert.True(error <= (2 * worst) + fp16Slack, $"output error {error} vs largest weight error {worst}");
    }

    private static double CompareOnRandomInputs(string path, FactorizationResult result)
    {
        var before = OrtRunner.RunOnRandomInputs(path, 21);
        var after = OrtRunner.RunOnRandomInputs(result.Model.ToBytes(), 21);
        return before.Keys.Max(k => OrtRunner.RelativeL2(before[k], after[k]));
    }
}
