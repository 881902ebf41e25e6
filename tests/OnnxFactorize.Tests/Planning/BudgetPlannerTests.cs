using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Tests.Validation;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Planning;

public class BudgetPlannerTests
{
    [Theory]
    [InlineData(0.005)]
    [InlineData(0.02)]
    [InlineData(0.1)]
    public void Budget_is_met_on_the_calibration_inputs_when_measured_independently(double budget)
    {
        var model = PlanningModels.AmplifiedMlp();
        var result = BudgetPlanner.Run(model, PlanningModels.Options(budget), latencyMeter: new FakeLatencyMeter());

        Assert.True(result.Plan.FinalError <= budget, $"plan says {result.Plan.FinalError}");
        Assert.True(result.Factorization.Changed);
        using var dir = new TempDir();
        model.Save(dir.File("a.onnx"));
        result.Factorization.Model.Save(dir.File("b.onnx"));
        var check = ModelValidator.Compare(dir.File("a.onnx"), dir.File("b.onnx"), new ValidationOptions { Inputs = new InputOptions { RandomSamples = 2, Seed = 3 }, Latency = null });
        Assert.True(check.Outputs.Max(o => o.RelL2Error) <= budget);
        Assert.Equal(result.Plan.FinalError, check.Outputs.Max(o => o.RelL2Error), 6);
    }

    [Fact]
    public void Insensitive_layers_are_factorized_more_than_the_amplified_one()
    {
        var result = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.02), latencyMeter: new FakeLatencyMeter());
        var rank = result.Plan.Nodes.ToDictionary(n => n.NodeName, n => n.ChosenRank == 0 ? PlanningModels.Width : n.ChosenRank);

        Assert.True(rank["l1"] < rank["l3"], $"l1 {rank["l1"]} vs l3 {rank["l3"]}");
        Assert.True(rank["l2"] < rank["l3"], $"l2 {rank["l2"]} vs l3 {rank["l3"]}");

        // The measured single-node sensitivities say the same at equal rank: l3 costs far more.
        var l1 = result.Plan.Nodes.Single(n => n.NodeName == "l1").Ladder;
        var l3 = result.Plan.Nodes.Single(n => n.NodeName == "l3").Ladder;
        var common = l1.Select(p => p.Rank).Intersect(l3.Select(p => p.Rank)).First();
        Assert.True(l3.Single(p => p.Rank == common).Error > 5 * l1.Single(p => p.Rank == common).Error);
    }

    [Fact]
    public void Cost_fraction_rungs_reach_ranks_below_the_energy_ladder_and_let_a_loose_budget_compress_further()
    {
        var energyOnly = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.3) with { CostFractions = [] }, latencyMeter: new FakeLatencyMeter());
        var withFractions = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.3), latencyMeter: new FakeLatencyMeter());

        // Compression(0.1) on a 64×64 weight: the largest k with 128k ≤ 0.1·4096, i.e. 3.
        var l1 = withFractions.Plan.Nodes.Single(n => n.NodeName == "l1").Ladder;
        Assert.Contains(l1, p => p.Rank == 3);
        Assert.True(l1.Min(p => p.Rank) < energyOnly.Plan.Nodes.Single(n => n.NodeName == "l1").Ladder.Min(p => p.Rank));
        Assert.True(withFractions.Plan.FinalError <= 0.3);
        Assert.True(
            FlopsSaved(withFractions) > FlopsSaved(energyOnly),
            $"FLOPs saved with fractions {FlopsSaved(withFractions)}, energy only {FlopsSaved(energyOnly)}");
    }

    [Fact]
    public void A_cost_fraction_outside_zero_to_one_is_rejected_by_name()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => (PlanningModels.Options(0.01) with { CostFractions = [0.5, 1.0] }).Validate());
        Assert.Contains("cost fraction", e.Message, StringComparison.Ordinal);
        Assert.Contains("1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ladder_errors_from_the_shared_session_equal_one_session_per_rank()
    {
        // (Rungs measured on the model cut at each node are compared with the whole probe in PlannerScaleTests.)
        var shared = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.02) with { DownstreamEvaluation = false }, latencyMeter: new FakeLatencyMeter());
        var naive = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.02) with { SharedSessions = false }, latencyMeter: new FakeLatencyMeter());

        // One weight-probe session serves every rung of every node (and the verifications); without sharing, one per evaluation.
        Assert.Equal(1, shared.Plan.Stats.SensitivitySessions);
        Assert.True(naive.Plan.Stats.SensitivitySessions >= naive.Plan.Stats.ErrorEvaluations);
        foreach (var (a, b) in shared.Plan.Nodes.Zip(naive.Plan.Nodes))
        {
            Assert.Equal(a.Ladder.Select(p => p.Rank), b.Ladder.Select(p => p.Rank));
            Assert.All(a.Ladder.Zip(b.Ladder), pair => Assert.Equal(pair.Second.Error, pair.First.Error, 4));
        }
    }

    [Fact]
    public void Rerun_with_the_cache_decomposes_and_measures_nothing()
    {
        using var dir = new TempDir();
        var first = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.02, dir.Path), latencyMeter: new FakeLatencyMeter());
        var meter = new FakeLatencyMeter();
        var second = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.02, dir.Path), latencyMeter: meter);

        Assert.Equal(3, first.Plan.Stats.Decompositions);
        Assert.True(first.Plan.Stats.ErrorEvaluations > 0);
        Assert.Equal(0, second.Plan.Stats.Decompositions);
        Assert.Equal(0, second.Plan.Stats.ErrorEvaluations);
        Assert.Equal(0, second.Plan.Stats.LatencyMeasurements);
        Assert.Equal(0, meter.Calls);
        Assert.Equal(3, second.Plan.Stats.NodeCacheHits);
        Assert.Equal(first.Plan.Nodes.Select(n => n.ChosenRank), second.Plan.Nodes.Select(n => n.ChosenRank));
        Assert.Equal(first.Factorization.Model.ToBytes(), second.Factorization.Model.ToBytes());
    }

    [Fact]
    public void A_factorization_slower_than_the_original_is_never_kept()
    {
        var result = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.1), latencyMeter: new FakeLatencyMeter("l1"));

        var l1 = result.Plan.Nodes.Single(n => n.NodeName == "l1");
        Assert.Equal(0, l1.ChosenRank);
        Assert.Equal(0, l1.LatencyBreakEvenRank);
        Assert.Contains("slower", l1.Reason, StringComparison.Ordinal);
        Assert.True(result.Plan.Nodes.Single(n => n.NodeName == "l2").ChosenRank > 0);
        Assert.Contains(result.Factorization.Decisions, d => d.NodeName == "l1" && d.Status == DecisionStatus.Skipped);
    }

    [Fact]
    public void Latency_target_prefers_the_nodes_that_save_time()
    {
        var result = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.1) with { Target = PlanTarget.Latency },
            latencyMeter: new FakeLatencyMeter("l2"));

        Assert.Equal(0, result.Plan.Nodes.Single(n => n.NodeName == "l2").ChosenRank);
        Assert.True(result.Plan.Nodes.Single(n => n.NodeName == "l1").ChosenRank > 0);
        Assert.All(result.Plan.Nodes.SelectMany(n => n.Ladder), p => Assert.NotNull(p.Speedup));
    }

    [Fact]
    public void When_nothing_fits_the_model_comes_back_unchanged()
    {
        var model = PlanningModels.AmplifiedMlp();
        var result = BudgetPlanner.Run(model, PlanningModels.Options(1e-9), latencyMeter: new FakeLatencyMeter());

        Assert.False(result.Factorization.Changed);
        Assert.Same(model, result.Factorization.Model);
        Assert.False(result.Plan.Factorized);
        Assert.Equal(0, result.Plan.FinalError);
        Assert.All(result.Factorization.Decisions, d => Assert.Equal(DecisionStatus.Skipped, d.Status));
    }

    [Fact]
    public void Progress_covers_every_phase_and_cancellation_stops_the_run()
    {
        var phases = new List<PlanPhase>();
        var progress = new SyncProgress(p => phases.Add(p.Phase));
        BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.02), progress, latencyMeter: new FakeLatencyMeter());
        Assert.Equal(Enum.GetValues<PlanPhase>(), phases.Distinct().Order());

        using var cts = new CancellationTokenSource();
        var cancelling = new SyncProgress(p =>
        {
            if (p.Phase == PlanPhase.Sensitivity)
            {
                cts.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() => BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.02), cancelling, cts.Token, new FakeLatencyMeter()));
    }

    private sealed class SyncProgress(Action<PlanProgress> report) : IProgress<PlanProgress>
    {
        public void Report(PlanProgress value) => report(value);
    }

    private static long FlopsSaved(BudgetResult result) =>
        result.Factorization.Decisions.Sum(d => d.FlopsBefore - d.FlopsAfter);
}
