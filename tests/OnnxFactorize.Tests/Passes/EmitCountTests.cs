using OnnxFactorize.Analysis;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Tests.Planning;
using OnnxFactorize.Tests.Support;

namespace OnnxFactorize.Tests.Passes;

/// <summary>Pricing a rank never rewrites a model: only the final answer is emitted, once per factorized node.</summary>
public class EmitCountTests
{
    [Theory]
    [InlineData("cnn.onnx")]
    [InlineData("mlp_gemm.onnx")]
    [InlineData("matmul_3d.onnx")]
    [InlineData("if_subgraph.onnx")]
    public void Factorizer_emits_once_per_factorized_node(string file)
    {
        var model = OnnxModel.Load(Path.Combine(RepoPaths.TestModels, file));
        using var emits = FactorizationPlan.CountEmits();
        var result = Factorizer.Run(model, new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.5) });
        Assert.True(result.Changed);
        Assert.Equal(result.Decisions.Count(d => d.Status == DecisionStatus.Factorized), emits.Count);
    }

    [Theory]
    [InlineData("cnn.onnx")]
    [InlineData("mlp_gemm.onnx")]
    public void Analyzer_prices_every_method_and_rank_without_emitting(string file)
    {
        var model = OnnxModel.Load(Path.Combine(RepoPaths.TestModels, file));
        var before = model.ToBytes();
        using var emits = FactorizationPlan.CountEmits();
        var analysis = ModelAnalyzer.Analyze(model, new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.5) });
        Assert.Contains(analysis.Nodes, n => n.WouldFactorize);
        Assert.Equal(0, emits.Count);
        Assert.Equal(before, model.ToBytes());
    }

    [Fact]
    public void Budget_planner_emits_only_the_final_model()
    {
        using var emits = FactorizationPlan.CountEmits();
        var result = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.05) with { LatencyGuard = false });
        var factorized = result.Factorization.Decisions.Count(d => d.Status == DecisionStatus.Factorized);
        Assert.True(factorized > 0);
        Assert.True(result.Plan.Nodes.Sum(n => n.Ladder.Count) > factorized, "the ladders priced more ranks than were kept");
        Assert.Equal(factorized, emits.Count);
    }
}
