using OnnxFactorize.Onnx;
using OnnxFactorize.Planning;
using OnnxFactorize.Tests.Validation;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Planning;

public class BudgetRefinementTests
{
    [Fact]
    public void Refinement_factorizes_a_node_the_quadrature_estimate_left_out_when_the_errors_cancel()
    {
        // The budget sits between the least damaging rung's error e and √2·e: the estimate fits one branch, never both
        // (one verification, so no rescaling), while the measured error of both shrinks as their truncations cancel.
        var model = PlanningModels.CancellingBranches();
        var probe = BudgetPlanner.Run(model, Options(0.5, refinements: 0), latencyMeter: new FakeLatencyMeter());
        var budget = 1.2 * probe.Plan.Nodes[0].Ladder.Min(p => p.Error);

        var estimateOnly = BudgetPlanner.Run(model, Options(budget, refinements: 0, verifications: 1), latencyMeter: new FakeLatencyMeter());
        var refined = BudgetPlanner.Run(model, Options(budget, refinements: 8, verifications: 1), latencyMeter: new FakeLatencyMeter());

        var excluded = Assert.Single(estimateOnly.Plan.Nodes, n => n.ChosenRank == 0).NodeName;
        Assert.Single(estimateOnly.Plan.Nodes, n => n.ChosenRank > 0);
        var taken = refined.Plan.Nodes.Single(n => n.NodeName == excluded);
        Assert.True(taken.ChosenRank > 0, $"'{excluded}' still left out: {taken.Reason}");
        Assert.Contains("measured refinement", taken.Reason, StringComparison.Ordinal);
        Assert.Contains(refined.Plan.Verifications, v => v.Action.Contains($"factorize '{excluded}'", StringComparison.Ordinal) && v.Action.EndsWith("kept", StringComparison.Ordinal));
        Assert.True(refined.Plan.FinalError <= budget, $"measured {refined.Plan.FinalError} of {budget}");
        Assert.True(MeasuredIndependently(model, refined.Factorization.Model) <= budget);
        Assert.True(FlopsSaved(refined) > FlopsSaved(estimateOnly), $"refined {FlopsSaved(refined)}, estimate only {FlopsSaved(estimateOnly)}");
    }

    [Theory]
    [InlineData(0.005)]
    [InlineData(0.02)]
    [InlineData(0.1)]
    public void Refinement_never_keeps_a_step_over_budget(double budget)
    {
        foreach (var model in new[] { PlanningModels.AmplifiedMlp(), PlanningModels.CancellingBranches() })
        {
            var result = BudgetPlanner.Run(model, Options(budget, refinements: 6), latencyMeter: new FakeLatencyMeter());

            Assert.True(result.Plan.FinalError <= budget, $"{model.Name}: plan says {result.Plan.FinalError}");
            Assert.All(result.Plan.Verifications.Where(v => v.Action.StartsWith("refinement", StringComparison.Ordinal)),
                v => Assert.Equal(v.Measured <= budget, v.Action.EndsWith("kept", StringComparison.Ordinal)));
            Assert.True(MeasuredIndependently(model, result.Factorization.Model) <= budget);
        }
    }

    [Fact]
    public void With_no_refinement_allowance_the_allocation_is_what_the_verification_loop_chose()
    {
        var model = PlanningModels.AmplifiedMlp();
        var without = BudgetPlanner.Run(model, Options(0.02, refinements: 0), latencyMeter: new FakeLatencyMeter());
        var with = BudgetPlanner.Run(model, Options(0.02, refinements: 6), latencyMeter: new FakeLatencyMeter());

        Assert.DoesNotContain(without.Plan.Verifications, v => v.Action.StartsWith("refinement", StringComparison.Ordinal));
        Assert.Equal(without.Plan.Verifications.Count, without.Plan.Stats.Verifications);
        Assert.DoesNotContain(without.Plan.Nodes, n => n.Reason.Contains("refinement", StringComparison.Ordinal));

        // Refinement only appends: the same verification loop first, then steps that never lose objective.
        Assert.Equal(without.Plan.Verifications, with.Plan.Verifications.Take(without.Plan.Verifications.Count));
        Assert.True(with.Plan.Verifications.Count > without.Plan.Verifications.Count);
        Assert.True(FlopsSaved(with) >= FlopsSaved(without));
    }

    [Fact]
    public void A_refinement_step_respects_the_latency_guard()
    {
        var result = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), Options(0.1, refinements: 8), latencyMeter: new FakeLatencyMeter("l1"));

        Assert.Equal(0, result.Plan.Nodes.Single(n => n.NodeName == "l1").ChosenRank);
        Assert.DoesNotContain(result.Plan.Verifications, v => v.Action.Contains("'l1'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_negative_refinement_allowance_is_rejected_by_name()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => (PlanningModels.Options(0.01) with { RefinementVerifications = -1 }).Validate());
        Assert.Contains("refinement-verifications", e.Message, StringComparison.Ordinal);
        Assert.Contains("-1", e.Message, StringComparison.Ordinal);
    }

    private static BudgetOptions Options(double budget, int refinements, int verifications = 6) =>
        PlanningModels.Options(budget) with { MaxVerifications = verifications, RefinementVerifications = refinements };

    private static double MeasuredIndependently(OnnxModel original, OnnxModel factorized)
    {
        using var dir = new TempDir();
        original.Save(dir.File("a.onnx"));
        factorized.Save(dir.File("b.onnx"));
        var check = ModelValidator.Compare(dir.File("a.onnx"), dir.File("b.onnx"), new ValidationOptions { Inputs = new InputOptions { RandomSamples = 2, Seed = 3 }, Latency = null });
        return check.Outputs.Max(o => o.RelL2Error);
    }

    private static long FlopsSaved(BudgetResult result) =>
        result.Factorization.Decisions.Sum(d => d.FlopsBefore - d.FlopsAfter);
}
