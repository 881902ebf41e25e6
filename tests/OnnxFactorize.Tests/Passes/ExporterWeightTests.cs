using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using static OnnxFactorize.Tests.Graph.GraphBuilder;
using static OnnxFactorize.Tests.Passes.PassTestKit;

namespace OnnxFactorize.Tests.Passes;

/// <summary>Weights where exporters put them: torch.onnx behind Identity nodes, paddle2onnx as Constant nodes (also behind
/// Identity), initializers as tf2onnx writes them.</summary>
public class ExporterWeightTests
{
    private const int M = 4;
    private const int K = 40;
    private const int N = 30;

    // X[M,K] · MatMul W[K,N] → Gemm (transB) W2[N,N] → Y, each weight reached the way the exporter writes it.
    private static ModelProto Build(string form)
    {
        var g = new GraphProto { Name = form };
        g.Input.Add(FloatInfo("X", M, K));
        g.Output.Add(FloatInfo("Y", M, N));
        var w1 = Tensor("W1", [K, N], LowRank(K, N, 4, 3));
        var w2 = Tensor("W2", [N, N], LowRank(N, N, 4, 5));
        string Weight(TensorProto tensor)
        {
            switch (form)
            {
                case "identity":
                    g.Initializer.Add(tensor);
                    g.Node.Add(Node("Identity", tensor.Name + "_id", [tensor.Name], [tensor.Name + "_out"]));
                    return tensor.Name + "_out";
                case "constant-identity":
                    g.Node.Add(Node("Constant", tensor.Name + "_const", [], [tensor.Name + "_c"], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor }));
                    g.Node.Add(Node("Identity", tensor.Name + "_id", [tensor.Name + "_c"], [tensor.Name + "_out"]));
                    return tensor.Name + "_out";
                default:
                    g.Initializer.Add(tensor);
                    return tensor.Name;
            }
        }

        var a = Weight(w1);
        var b = Weight(w2);
        g.Node.Add(Node("MatMul", "mm", ["X", a], ["H"]));
        g.Node.Add(Node("Gemm", "gemm", ["H", b], ["Y"], Int("transB", 1)));
        return Model(g);
    }

    [Theory]
    [InlineData("initializer")]
    [InlineData("identity")]
    [InlineData("constant-identity")]
    public void Weights_behind_identity_and_constant_nodes_are_factorized_and_run_the_same(string form)
    {
        var (result, error) = FactorizeAndCompare(Build(form), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });
        Assert.Equal(2, result.Decisions.Count(d => d.Status == DecisionStatus.Factorized));
        Assert.InRange(error, 0, 1e-4);

        // The Identity and Constant nodes that only fed the replaced weights are gone with them.
        Assert.DoesNotContain(result.Model.Proto.Graph.Node, n => n.OpType is "Identity" or "Constant");
    }

    [Fact]
    public void An_overridable_weight_behind_identity_is_still_refused()
    {
        var model = Build("identity");
        model.Graph.Input.Add(FloatInfo("W1", K, N));
        var (result, _) = FactorizeAndCompare(model, new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });
        Assert.Contains(result.Decisions, d => d.NodeName == "mm" && d.Status == DecisionStatus.Skipped && d.Reason.Contains("graph input", StringComparison.Ordinal));
    }
}
