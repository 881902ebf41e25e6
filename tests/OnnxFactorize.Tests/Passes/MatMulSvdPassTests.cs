using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using static OnnxFactorize.Tests.Graph.GraphBuilder;
using static OnnxFactorize.Tests.Passes.PassTestKit;

namespace OnnxFactorize.Tests.Passes;

public class MatMulSvdPassTests
{
    private static ModelProto RightWeightModel(long[] xShape, int k, int n, float[] w)
    {
        var g = new GraphProto { Name = "mm" };
        g.Input.Add(FloatInfo("X", xShape));
        g.Initializer.Add(Tensor("W", [k, n], w));
        g.Node.Add(Node("MatMul", "mm", ["X", "W"], ["Y"]));
        g.Node.Add(Node("Relu", "relu", ["Y"], ["Z"]));
        g.Output.Add(FloatInfo("Z", [.. xShape[..^1], n]));
        return Model(g);
    }

    [Theory]
    [InlineData(new long[] { 8, 64 })]
    [InlineData(new long[] { 2, 5, 64 })]
    [InlineData(new long[] { 3, 1, 4, 64 })]
    [InlineData(new long[] { 64 })]
    public void A_right_weight_of_exact_rank_k_factorized_at_k_reproduces_the_outputs(long[] xShape)
    {
        var (result, error) = FactorizeAndCompare(RightWeightModel(xShape, 64, 48, LowRank(64, 48, 6, 1)), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(6) });

        var decision = Assert.Single(result.Decisions);
        Assert.Equal(DecisionStatus.Factorized, decision.Status);
        Assert.Equal(6 * (64 + 48), decision.ParamsAfter);
        Assert.Equal(64 * 48, decision.ParamsBefore);
        Assert.True(error < 1e-4, $"relative error {error}");
        Assert.True(decision.WeightRelError < 1e-4);
        var graph = result.Model.Proto.Graph;
        Assert.Equal(2, graph.Node.Count(n => n.OpType == "MatMul"));
        Assert.DoesNotContain(graph.Initializer, t => t.Name == "W");
        Assert.Equal("Y", graph.Node.Single(n => n.OpType == "Relu").Input[0]);
    }

    [Fact]
    public void A_left_weight_is_factorized_as_A_times_B_times_X()
    {
        var g = new GraphProto { Name = "left" };
        g.Input.Add(FloatInfo("X", 2, 40, 7));
        g.Initializer.Add(Tensor("W", [50, 40], LowRank(50, 40, 5, 2)));
        g.Node.Add(Node("MatMul", "mm", ["W", "X"], ["Y"]));
        g.Output.Add(FloatInfo("Y", 2, 50, 7));

        var (result, error) = FactorizeAndCompare(Model(g), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(5) });

        Assert.Equal(DecisionStatus.Factorized, result.Decisions.Single().Status);
        Assert.True(error < 1e-4, $"relative error {error}");
        Assert.Equal(2 * 5 * (50 + 40) * 14, result.Decisions.Single().FlopsAfter);
        Assert.Equal(2L * 50 * 40 * 14, result.Decisions.Single().FlopsBefore);
    }

    [Fact]
    public void At_reduced_rank_the_output_error_matches_what_the_weight_error_predicts()
    {
        // For Gaussian X with independent entries, E‖X·E‖² = rows·‖E‖_F², so the relative output error tracks the
        // relative weight error ‖W − Ŵ‖_F/‖W‖_F.
        var w = Gaussian(96 * 80, 9);
        var model = RightWeightModel([512, 96], 96, 80, w);
        model.Graph.Node.RemoveAt(1);
        model.Graph.Output[0] = FloatInfo("Y", 512, 80);
        var previous = double.MaxValue;
        foreach (var rank in new[] { 8, 16, 32 })
        {
            var (result, error) = FactorizeAndCompare(model, new FactorizeOptions { RankPolicy = RankPolicy.Fixed(rank) });
            var predicted = result.Decisions.Single().WeightRelError;
            Assert.InRange(error / predicted, 0.85, 1.15);
            Assert.True(error < previous, $"error {error} at rank {rank} did not drop below {previous}");
            previous = error;
        }
    }

    [Fact]
    public void A_weight_shared_by_two_matmuls_is_factorized_once_and_both_use_the_same_factors()
    {
        var model = OnnxModel.Load(Path.Combine(Support.RepoPaths.TestModels, "shared_weight.onnx"));
        var result = Factorizer.Run(model, new FactorizeOptions { RankPolicy = RankPolicy.Energy(0.95) });

        Assert.All(result.Decisions, d => Assert.Equal(DecisionStatus.Factorized, d.Status));
        var graph = result.Model.Proto.Graph;
        var factorNames = graph.Initializer.Where(t => t.Name.Contains("_svd_", StringComparison.Ordinal)).Select(t => t.Name).ToList();
        Assert.Equal(2, factorNames.Count);
        foreach (var name in factorNames)
        {
            Assert.Equal(2, graph.Node.Count(n => n.Input.Contains(name)));
        }
    }

    [Fact]
    public void A_node_that_would_not_save_parameters_is_skipped_with_the_break_even_rank()
    {
        var (result, error) = FactorizeAndCompare(RightWeightModel([4, 16], 16, 12, Gaussian(16 * 12, 3)), new FactorizeOptions { RankPolicy = RankPolicy.Energy(0.999) });

        var decision = Assert.Single(result.Decisions);
        Assert.Equal(DecisionStatus.Skipped, decision.Status);
        Assert.Contains("break-even for 16×12 is 6", decision.Reason);
        Assert.Equal(0, error);
    }

    [Fact]
    public void Non_finite_and_integer_weights_and_activation_products_are_skipped_with_reasons()
    {
        var nan = Gaussian(32 * 32, 4);
        nan[17] = float.NaN;
        var g = new GraphProto { Name = "skips" };
        g.Input.Add(FloatInfo("X", 2, 32));
        g.Input.Add(FloatInfo("Y", 32, 32));
        g.Initializer.Add(Tensor("Wnan", [32, 32], nan));
        g.Node.Add(Node("MatMul", "nan", ["X", "Wnan"], ["A"]));
        g.Node.Add(Node("MatMul", "dynamic", ["X", "Y"], ["B"]));
        g.Output.Add(FloatInfo("A", 2, 32));
        g.Output.Add(FloatInfo("B", 2, 32));

        var result = Factorizer.Run(OnnxModel.FromProto(Model(g)), new FactorizeOptions());

        Assert.Contains("NaN", result.Decisions.Single(d => d.NodeName == "nan").Reason);
        Assert.Contains("neither operand", result.Decisions.Single(d => d.NodeName == "dynamic").Reason);
        Assert.False(result.Changed);
    }

    [Fact]
    public void Overridable_weights_are_skipped_unless_allowed()
    {
        var model = OnnxModel.Load(Path.Combine(Support.RepoPaths.TestModels, "overridable.onnx"));

        var strict = Factorizer.Run(model, new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.25) });
        var allowed = Factorizer.Run(model, new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.25), AllowOverridableWeights = true });

        Assert.All(strict.Decisions, d => Assert.Contains("graph input", d.Reason));
        Assert.False(strict.Changed);
        Assert.Same(model, strict.Model);
        Assert.Contains(allowed.Decisions, d => d.Status == DecisionStatus.Factorized);
    }

    [Theory]
    [InlineData(TensorProto.Types.DataType.Bfloat16)]
    [InlineData(TensorProto.Types.DataType.Double)]
    public void Bf16_and_double_weights_get_factors_in_their_own_type_whose_product_is_the_weight(TensorProto.Types.DataType type)
    {
        var w = LowRank(48, 40, 3, 8);
        var model = RightWeightModel([2, 48], 48, 40, w);
        model.Graph.Initializer[0] = TensorCodec.Create("W", [48, 40], w, (int)type);
        var stored = TensorCodec.ReadFloats(model.Graph.Initializer[0]);

        var result = Factorizer.Run(OnnxModel.FromProto(model), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(3) });

        var a = result.Model.Proto.Graph.Initializer.Single(t => t.Name == "W_svd_a");
        var b = result.Model.Proto.Graph.Initializer.Single(t => t.Name == "W_svd_b");
        Assert.Equal((int)type, a.DataType);
        Assert.Equal((int)type, b.DataType);
        var product = new float[48 * 40];
        MatrixOps.Gemm(TensorCodec.ReadFloats(a), 48, 3, TensorCodec.ReadFloats(b), 40, product);
        var tolerance = type == TensorProto.Types.DataType.Bfloat16 ? 0.02 : 1e-5;
        Assert.True(Support.OrtRunner.RelativeL2(stored, product) < tolerance);
    }

    [Fact]
    public void Rank_multiple_rounds_the_chosen_rank_up()
    {
        var model = RightWeightModel([4, 64], 64, 64, Gaussian(64 * 64, 2));

        var result = Factorizer.Run(OnnxModel.FromProto(model), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(5), RankMultiple = 8 });

        Assert.Equal(8, result.Decisions.Single().Rank);
    }
}
