using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

public class ModelCostTests
{
    [Fact]
    public void Gemm_flops_are_2_M_N_K_and_params_count_every_initializer()
    {
        var cost = ModelCost.Analyze(TestModels.Gemm(k: 4, n: 3, batch: "batch"), new Dictionary<string, long> { ["batch"] = 2 });

        Assert.Equal(2 * 2 * 3 * 4, cost.Flops);
        Assert.Equal(4 * 3 + 3, cost.Parameters);
        Assert.False(cost.ShapesFromRuntime);
        Assert.Equal("gemm0", Assert.Single(cost.Nodes).NodeName);
    }

    [Fact]
    public void Gemm_with_transposed_B_counts_the_same()
    {
        var cost = ModelCost.Analyze(TestModels.Gemm(k: 4, n: 3, batch: 5, transB: true));
        Assert.Equal(2 * 5 * 3 * 4, cost.Flops);
    }

    [Fact]
    public void MatMul_without_declared_shapes_is_measured_in_onnx_runtime()
    {
        var cost = ModelCost.Analyze(TestModels.MatMul(batch: 3, m: 5, k: 4, n: 6, declareShapes: false));

        Assert.True(cost.ShapesFromRuntime);
        Assert.Equal(2L * 3 * 5 * 6 * 4, cost.Flops);
    }

    [Theory]
    [InlineData(1, 2, 3, 1, 972)]     // 2·N·C_out·H_out·W_out·C_in·k² = 2·1·3·3·3·2·9
    [InlineData(2, 4, 4, 2, 2592)]    // grouped: C_in/group = 2; batch 2 → 2·2·4·9·2·9
    public void Conv_flops_follow_the_formula_with_shapes_from_a_run(int n, int cin, int cout, int group, long expected)
    {
        var cost = ModelCost.Analyze(TestModels.Conv(n, cin, 5, 5, cout, 3, 3, group));

        Assert.True(cost.ShapesFromRuntime);
        Assert.Equal(expected, cost.Flops);
    }

    [Fact]
    public void Unbound_symbolic_dims_in_the_shape_run_are_named()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => ModelCost.Analyze(TestModels.Gemm(k: 4, n: 3, batch: "batch", declareOutputShape: false)));
        Assert.Contains("'batch' (axis 0 of input 'x')", e.Message, StringComparison.Ordinal);
    }
}

public class ConstantNodeParameterTests
{
    [Fact]
    public void Parameters_kept_in_constant_nodes_are_counted_like_initializers()
    {
        // The PP-OCR classifier (a Paddle export) has no weight initializers: every weight is a Constant node.
        var model = OnnxFactorize.Onnx.OnnxModel.Load(OnnxFactorize.Tests.Support.RealModels.Path("ppocr-mobile-v2-cls"));
        Assert.DoesNotContain(model.Proto.Graph.Initializer, t => t.Dims.Count >= 2);
        Assert.InRange(ModelCost.CountParameters(model.Proto), 100_000, 200_000);
    }
}
