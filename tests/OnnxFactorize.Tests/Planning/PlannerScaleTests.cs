using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;
using static OnnxFactorize.Tests.Graph.GraphBuilder;

namespace OnnxFactorize.Tests.Planning;

/// <summary>The planner's scaling machinery gives the answers of the plain search: rungs measured on the model cut at the
/// node equal the whole weight probe's, the bisected ladder chooses the ranks the full ladder does.</summary>
public class PlannerScaleTests
{
    /// <summary>x → l1 → Relu → l2 → (+ skip from the Relu) → l3 → y: l2's cut is the Relu output, read both by l2 and by the
    /// skip Add after it; l3's cut is the Add output.</summary>
    private static OnnxModel ResidualChain()
    {
        var w = PlanningModels.Width;
        var graph = new GraphProto { Name = "residual" };
        graph.Input.Add(FloatInfo("x", 8, w));
        graph.Output.Add(FloatInfo("y", 8, w));
        graph.Initializer.Add(Tensor("W1", [w, w], PlanningModels.Decaying(1)));
        graph.Initializer.Add(Tensor("W2", [w, w], PlanningModels.Decaying(2)));
        graph.Initializer.Add(Tensor("W3", [w, w], PlanningModels.Decaying(3)));
        graph.Node.Add(Node("MatMul", "l1", ["x", "W1"], ["h1"]));
        graph.Node.Add(Node("Relu", "r1", ["h1"], ["a1"]));
        graph.Node.Add(Node("MatMul", "l2", ["a1", "W2"], ["h2"]));
        graph.Node.Add(Node("Add", "skip", ["h2", "a1"], ["s"]));
        graph.Node.Add(Node("MatMul", "l3", ["s", "W3"], ["y"]));
        return OnnxModel.FromProto(Model(graph));
    }

    private static BudgetOptions Options(double budget) => PlanningModels.Options(budget) with
    {
        Inputs = new InputOptions { RandomSamples = 5, Seed = 3 },
        LatencyGuard = false,
    };

    [Fact]
    public void Rungs_measured_downstream_of_the_node_equal_the_whole_model_run()
    {
        var full = BudgetPlanner.Run(ResidualChain(), Options(0.05) with { BisectLadder = false, DownstreamEvaluation = false });
        var cut = BudgetPlanner.Run(ResidualChain(), Options(0.05) with { BisectLadder = false });

        // l1 reads the model input (nothing before it to skip); l2 and l3 are cut: an upstream and a downstream session each.
        Assert.Equal(1, full.Plan.Stats.SensitivitySessions);
        Assert.Equal(1 + (2 * 2), cut.Plan.Stats.SensitivitySessions);
        Assert.Equal(full.Plan.Stats.ErrorEvaluations, cut.Plan.Stats.ErrorEvaluations);
        foreach (var (a, b) in full.Plan.Nodes.Zip(cut.Plan.Nodes))
        {
            Assert.Equal(a.Ladder.Select(p => p.Rank), b.Ladder.Select(p => p.Rank));
            Assert.All(a.Ladder.Zip(b.Ladder), pair => Assert.True(
                Math.Abs(pair.First.Error - pair.Second.Error) <= 1e-4 * Math.Max(pair.First.Error, 1e-3),
                $"{a.NodeName} rank {pair.First.Rank}: whole model {pair.First.Error}, downstream {pair.Second.Error}"));
        }

        Assert.Equal(full.Plan.Nodes.Select(n => n.ChosenRank), cut.Plan.Nodes.Select(n => n.ChosenRank));
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.05)]
    [InlineData(0.2)]
    public void The_bisected_ladder_chooses_the_ranks_of_the_full_ladder_with_fewer_evaluations(double budget)
    {
        var full = BudgetPlanner.Run(ResidualChain(), Options(budget) with { BisectLadder = false });
        var bisected = BudgetPlanner.Run(ResidualChain(), Options(budget));

        Assert.Equal(full.Plan.Nodes.Select(n => n.ChosenRank), bisected.Plan.Nodes.Select(n => n.ChosenRank));
        Assert.True(bisected.Plan.Stats.ErrorEvaluations < full.Plan.Stats.ErrorEvaluations,
            $"bisected {bisected.Plan.Stats.ErrorEvaluations} evaluations, full {full.Plan.Stats.ErrorEvaluations}");

        // What the bisection leaves out is only the cheap end over budget alone: every rung it kept is measured as in the full ladder.
        foreach (var (a, b) in full.Plan.Nodes.Zip(bisected.Plan.Nodes))
        {
            var measured = a.Ladder.ToDictionary(p => (p.Method, string.Join(",", p.Ranks), p.Rank), p => p.Error);
            Assert.All(b.Ladder, p => Assert.Equal(measured[(p.Method, string.Join(",", p.Ranks), p.Rank)], p.Error, 6));
            Assert.All(a.Ladder.Except(a.Ladder.Where(p => b.Ladder.Any(q => q.Rank == p.Rank && q.Method == p.Method))),
                p => Assert.True(p.Error > budget, $"{a.NodeName} rank {p.Rank} left out at {p.Error} within {budget}"));
        }
    }

    [Fact]
    public void The_time_estimate_is_reported_before_the_search_starts()
    {
        var phases = new List<PlanProgress>();
        BudgetPlanner.Run(ResidualChain(), Options(0.05), new SyncRecorder(phases));

        var estimate = phases.FindIndex(p => p.Phase == PlanPhase.Estimate);
        Assert.True(estimate >= 0);
        Assert.True(estimate < phases.FindIndex(p => p.Phase == PlanPhase.Sensitivity));
        Assert.Matches(@"estimate: 3 node\(s\) × ≤ 17 rungs = \d+–51 evaluations", phases[estimate].Detail);
    }

    private sealed class SyncRecorder(List<PlanProgress> list) : IProgress<PlanProgress>
    {
        public void Report(PlanProgress value) => list.Add(value);
    }
}
