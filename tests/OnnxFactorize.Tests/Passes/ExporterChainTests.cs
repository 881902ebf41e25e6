using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using OnnxFactorize.Validation;
using static OnnxFactorize.Tests.Graph.GraphBuilder;
using static OnnxFactorize.Tests.Passes.PassTestKit;

namespace OnnxFactorize.Tests.Passes;

/// <summary>Weights behind the layout and type ops exporters write around a constant: tf2onnx's Transpose of a stored weight,
/// fp16 exports' FLOAT16 initializer → Cast(to=FLOAT), paddle2onnx's Constant → Reshape and Squeeze/Unsqueeze. Each model is
/// run before and after in ONNX Runtime.</summary>
public class ExporterChainTests
{
    private const int M = 4;
    private const int K = 40;
    private const int N = 30;
    private const int Float = (int)TensorProto.Types.DataType.Float;
    private const int Float16 = (int)TensorProto.Types.DataType.Float16;

    // X[M,K] · MatMul W1[K,N] → Gemm(transB) W2[N,N] → Y, each weight reached through the chain the exporter writes.
    private static ModelProto Build(string form, bool sharedChain = false)
    {
        var g = new GraphProto { Name = form };
        g.Input.Add(FloatInfo("X", M, K));
        g.Output.Add(FloatInfo("Y", M, N));
        var w1 = LowRank(K, N, 4, 3);
        var w2 = LowRank(N, N, 4, 5);
        string Weight(string name, int rows, int cols, float[] values)
        {
            var output = name + "_w";
            switch (form)
            {
                case "tf2onnx-transpose":
                    // tf2onnx keeps TF's layout and transposes the stored constant in the graph.
                    var transposed = new float[values.Length];
                    MatrixOps.Transpose(values, rows, cols, transposed);
                    g.Initializer.Add(Tensor(name, [cols, rows], transposed));
                    g.Node.Add(Node("Transpose", name + "_t", [name], [output], Ints("perm", 1, 0)));
                    break;
                case "fp16-cast":
                    g.Initializer.Add(Tensor(name, [rows, cols], values, Float16));
                    g.Node.Add(Node("Cast", name + "_cast", [name], [output], Int("to", Float)));
                    break;
                case "paddle-reshape":
                    g.Node.Add(Node("Constant", name + "_const", [], [name + "_flat"], TensorAttribute(Tensor(name, [rows * cols], values))));
                    g.Initializer.Add(Int64s(name + "_shape", rows, cols));
                    g.Node.Add(Node("Reshape", name + "_reshape", [name + "_flat", name + "_shape"], [output]));
                    break;
                case "unsqueeze-squeeze":
                    // Opset 13 form: axes as an input. [r,c] → Unsqueeze(0) → [1,r,c] → Squeeze(0) → [r,c].
                    g.Initializer.Add(Tensor(name, [rows, cols], values));
                    g.Initializer.Add(Int64s(name + "_axes", 0));
                    g.Node.Add(Node("Unsqueeze", name + "_unsq", [name, name + "_axes"], [name + "_3d"]));
                    g.Node.Add(Node("Squeeze", name + "_sq", [name + "_3d", name + "_axes"], [output]));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(form));
            }

            return output;
        }

        var a = Weight("W1", K, N, w1);
        var b = Weight("W2", N, N, w2);
        g.Node.Add(Node("MatMul", "mm", ["X", a], ["H"]));
        if (sharedChain)
        {
            // Another reader of the folded weight: it must keep reading the original chain.
            g.Node.Add(Node("ReduceSum", "other", [a], ["S"], Int("keepdims", 0)));
            g.Output.Add(FloatInfo("S"));
        }

        g.Node.Add(Node("Gemm", "gemm", ["H", b], ["Y"], Int("transB", 1)));
        return Model(g);
    }

    // The weights are exactly rank 4, so rank-4 factors reproduce them to float rounding; stored as FLOAT16 they carry
    // rounding noise of about 2^-11 relative per element, which a rank-4 truncation drops.
    private static double Tolerance(string form) => form == "fp16-cast" ? 1e-3 : 1e-4;

    private static AttributeProto TensorAttribute(TensorProto t) => new() { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = t };

    private static TensorProto Int64s(string name, params long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.Add(values);
        return t;
    }

    [Theory]
    [InlineData("tf2onnx-transpose")]
    [InlineData("fp16-cast")]
    [InlineData("paddle-reshape")]
    [InlineData("unsqueeze-squeeze")]
    public void Weights_behind_exporter_chains_are_factorized_and_run_the_same(string form)
    {
        var (result, error) = FactorizeAndCompare(Build(form), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });
        Assert.All(result.Decisions, d => Assert.Equal(DecisionStatus.Factorized, d.Status));
        Assert.Equal(2, result.Decisions.Count);
        Assert.InRange(error, 0, Tolerance(form));

        // The chains fed only the replaced weights: cleanup removed them with their constants.
        Assert.DoesNotContain(result.Model.Proto.Graph.Node, n => n.OpType is "Transpose" or "Cast" or "Reshape" or "Constant" or "Squeeze" or "Unsqueeze");
        Assert.DoesNotContain(result.Model.Proto.Graph.Initializer, t => t.Name is "W1" or "W2");
    }

    [Theory]
    [InlineData("tf2onnx-transpose")]
    [InlineData("fp16-cast")]
    [InlineData("paddle-reshape")]
    public void A_chain_read_by_another_node_stays_for_that_node(string form)
    {
        var (result, error) = FactorizeAndCompare(Build(form, sharedChain: true), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });
        Assert.Contains(result.Decisions, d => d.NodeName == "mm" && d.Status == DecisionStatus.Factorized);
        Assert.InRange(error, 0, Tolerance(form));
        var graph = result.Model.Proto.Graph;
        var other = Assert.Single(graph.Node, n => n.Name == "other");
        Assert.Equal("W1_w", other.Input[0]);
        Assert.Contains(graph.Node, n => n.Output.Contains("W1_w"));
        Assert.DoesNotContain(graph.Node, n => n.Name == "mm" || n.Input.Contains("W1_w") && n.Name != "other");
    }

    [Fact]
    public void Parameters_of_an_fp16_weight_behind_a_cast_are_counted_once()
    {
        var model = Build("fp16-cast");
        Assert.Equal((K * N) + (N * N), ModelCost.CountParameters(model));
        var (result, _) = FactorizeAndCompare(model, new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });

        // Only the factors remain: the FLOAT16 originals went with their Casts and no folded copy was stored.
        var after = ModelCost.CountParameters(result.Model.Proto);
        Assert.Equal(result.Decisions.Sum(d => d.ParamsAfter), after);
        Assert.Equal((4 * (K + N)) + (4 * (N + N)), after);
    }

    [Fact]
    public void A_cast_from_an_integer_constant_is_skipped_with_a_reason_that_names_it()
    {
        var g = new GraphProto { Name = "int8-cast" };
        g.Input.Add(FloatInfo("X", M, K));
        g.Output.Add(FloatInfo("Y", M, N));
        var q = new TensorProto { Name = "Wq", DataType = (int)TensorProto.Types.DataType.Int8 };
        q.Dims.Add([K, N]);
        q.RawData = Google.Protobuf.ByteString.CopyFrom([.. Enumerable.Range(0, K * N).Select(i => (byte)(i % 7))]);
        g.Initializer.Add(q);
        g.Node.Add(Node("Cast", "dequant", ["Wq"], ["W"], Int("to", Float)));
        g.Node.Add(Node("MatMul", "mm", ["X", "W"], ["Y"]));
        var (result, error) = FactorizeAndCompare(Model(g), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });
        var decision = Assert.Single(result.Decisions);
        Assert.Equal(DecisionStatus.Skipped, decision.Status);
        Assert.Contains("INT8", decision.Reason, StringComparison.Ordinal);
        Assert.Contains("Cast 'dequant'", decision.Reason, StringComparison.Ordinal);
        Assert.Equal(0, error);
    }

    [Fact]
    public void A_cast_to_an_integer_type_is_skipped_with_a_reason()
    {
        var g = new GraphProto { Name = "cast-to-int" };
        g.Input.Add(Info("X", (int)TensorProto.Types.DataType.Int32, M, K));
        g.Output.Add(Info("Y", (int)TensorProto.Types.DataType.Int32, M, N));
        g.Initializer.Add(Tensor("W", [K, N], LowRank(K, N, 4, 3)));
        g.Node.Add(Node("Cast", "to_int", ["W"], ["Wi"], Int("to", (int)TensorProto.Types.DataType.Int32)));
        g.Node.Add(Node("MatMul", "mm", ["X", "Wi"], ["Y"]));
        var result = Factorizer.Run(OnnxModel.FromProto(Model(g)), new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) });
        var decision = Assert.Single(result.Decisions);
        Assert.Equal(DecisionStatus.Skipped, decision.Status);
        Assert.Contains("to INT32", decision.Reason, StringComparison.Ordinal);
    }
}
