using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Optimization;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Validation;
using static OnnxFactorize.Tests.Graph.GraphBuilder;
using static OnnxFactorize.Tests.Passes.PassTestKit;

namespace OnnxFactorize.Tests.Optimization;

/// <summary>When the policy factorizes nothing, the report says what would, priced without rewriting.</summary>
public sealed class AdviceTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(float[] weight)
    {
        var g = new GraphProto { Name = "gemm" };
        g.Input.Add(FloatInfo("X", 8, 64));
        g.Output.Add(FloatInfo("Y", 8, 64));
        g.Initializer.Add(Tensor("W", [64, 64], weight));
        g.Node.Add(Node("Gemm", "fc", ["X", "W"], ["Y"]));
        var path = _dir.File($"m{weight.GetHashCode()}.onnx");
        OnnxModel.FromProto(Model(g)).Save(path);
        return path;
    }

    [Fact]
    public void A_flat_spectrum_that_energy_cannot_cut_gets_priced_ratios_and_the_commands_to_try()
    {
        var path = Write(Gaussian(64 * 64, 7));
        using var emits = FactorizationPlan.CountEmits();
        var report = Optimizer.Run(new OptimizeRequest { ModelPath = path, OutputPath = _dir.File("out.onnx") });
        Assert.Equal(0, report.FactorizedCount);
        Assert.Equal(0, emits.Count);
        var advice = Assert.Single(report.Notes, n => n.StartsWith("advice:", StringComparison.Ordinal));
        Assert.Contains("--rank-ratio 0.25 would factorize 1 node(s)", advice, StringComparison.Ordinal);
        Assert.Contains("--max-error 0.02 --validate", advice, StringComparison.Ordinal);
    }

    [Fact]
    public void A_result_that_saves_gets_no_advice()
    {
        var path = Write(LowRank(64, 64, 4, 3));
        var report = Optimizer.Run(new OptimizeRequest { ModelPath = path, OutputPath = _dir.File("out2.onnx"), Factorize = new FactorizeOptions { RankPolicy = RankPolicy.Energy(0.99) } });
        Assert.Equal(1, report.FactorizedCount);
        Assert.DoesNotContain(report.Notes, n => n.StartsWith("advice:", StringComparison.Ordinal));
    }
}
