using System.Text.Json;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Reports;
using OnnxFactorize.Tests.Reports;
using OnnxFactorize.Tests.Validation;

namespace OnnxFactorize.Tests.Planning;

public class PlanningApiTests
{
    [Fact]
    public void Node_rank_overrides_pin_the_named_nodes_and_leave_the_others_to_the_policy()
    {
        var options = new FactorizeOptions { RankPolicy = RankPolicy.Fixed(4) }.WithNodeRanks([new("l1", 7), new("l3", 12)]);
        var result = Factorizer.Run(PlanningModels.AmplifiedMlp(), options);
        var ranks = result.Decisions.ToDictionary(d => d.NodeName, d => d.Rank);

        Assert.Equal(7, ranks["l1"]);
        Assert.Equal(4, ranks["l2"]);
        Assert.Equal(12, ranks["l3"]);
        Assert.Contains("fixed rank 7", result.Decisions.Single(d => d.NodeName == "l1").Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Node_rank_overrides_are_validated_with_the_bad_value_named()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => new FactorizeOptions().WithNodeRanks([new("l1", 0)]));
        Assert.Contains("'l1'", e.Message, StringComparison.Ordinal);
        Assert.Contains("got 0", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, null, "no budget given")]
    [InlineData(0.01, null, 0.9, "several budgets")]
    [InlineData(-0.5, null, null, "got -0.5")]
    [InlineData(null, null, 1.5, "got 1.5")]
    [InlineData(null, 1.0, null, "needs labels")]
    public void Budget_options_name_the_bad_value(double? maxError, double? maxDrop, double? minTop1, string expected)
    {
        var options = new BudgetOptions { MaxError = maxError, MaxAccuracyDrop = maxDrop, MinTop1Agreement = minTop1 };
        var e = Assert.Throws<OnnxFactorizeException>(() => options.Validate());
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Budget_options_reject_a_bad_ladder_and_parse_targets()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => new BudgetOptions { MaxError = 0.01, Energies = [0.9, 1.2] }.Validate());
        Assert.Contains("got 1.2", e.Message, StringComparison.Ordinal);
        Assert.Equal(PlanTarget.Latency, BudgetOptions.ParseTarget("Latency"));
        Assert.Contains("'speed'", Assert.Throws<OnnxFactorizeException>(() => BudgetOptions.ParseTarget("speed")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Allocator_spends_the_budget_where_it_buys_the_most()
    {
        static NodePlan Node(string name, params (int Rank, double Error, long Flops)[] rungs) => new()
        {
            NodeName = name,
            OpType = "MatMul",
            FlopsBefore = 1000,
            Ladder = [.. rungs.Select(r => new LadderPoint { Rank = r.Rank, Error = r.Error, Flops = r.Flops })],
        };

        // "cheap" loses little error per FLOP saved, "dear" a lot: with room for one, the cheap node gets its lowest rung.
        var nodes = new[] { Node("cheap", (2, 0.01, 200), (4, 0.005, 400)), Node("dear", (2, 0.05, 200), (4, 0.02, 400)) };
        var allowed = nodes.Select(n => n.Ladder.Select(_ => true).ToArray()).ToList();
        var choice = RankAllocator.Allocate(nodes, allowed, RankAllocator.Cost(0.012, BudgetMetric.RelL2Error), PlanTarget.Flops, BudgetMetric.RelL2Error);
        Assert.Equal([0, -1], choice);

        // Disallowed rungs (slower than the original) are never chosen.
        allowed[0][0] = false;
        choice = RankAllocator.Allocate(nodes, allowed, RankAllocator.Cost(0.012, BudgetMetric.RelL2Error), PlanTarget.Flops, BudgetMetric.RelL2Error);
        Assert.Equal([1, -1], choice);
        Assert.Equal(0.005, RankAllocator.Estimate(nodes, choice, BudgetMetric.RelL2Error), 12);
    }

    [Fact]
    public void Json_report_carries_the_plan_and_every_key_is_documented()
    {
        var result = BudgetPlanner.Run(PlanningModels.AmplifiedMlp(), PlanningModels.Options(0.02), latencyMeter: new FakeLatencyMeter());
        var json = JsonReport.Serialize(SampleResults.Failed(), result.Plan);
        using var doc = JsonDocument.Parse(json);
        var planning = doc.RootElement.GetProperty("planning");
        Assert.Equal(3, planning.GetProperty("nodes").GetArrayLength());
        Assert.True(planning.GetProperty("nodes")[0].GetProperty("ladder").GetArrayLength() > 1);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(JsonReport.Serialize(SampleResults.Failed())).RootElement.GetProperty("planning").ValueKind);

        var schema = File.ReadAllText(Path.Combine(JsonReportTests.RepoRoot(), "docs", "report-schema.md"));
        var keys = new List<string>();
        void Collect(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in e.EnumerateObject())
                {
                    keys.Add(p.Name);
                    Collect(p.Value);
                }
            }
            else if (e.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in e.EnumerateArray())
                {
                    Collect(item);
                }
            }
        }

        Collect(doc.RootElement);
        Assert.All(keys.Distinct(), k => Assert.Contains($"`{k}`", schema, StringComparison.Ordinal));
    }

    [Fact]
    public void Svd_cache_serves_a_rerun_from_disk()
    {
        using var dir = new TempDir();
        var matrix = PlanningModels.Decaying(5);
        var first = new SvdCache(dir.Path);
        var a = first.GetOrCompute(matrix, PlanningModels.Width, PlanningModels.Width, 20, new SvdOptions());
        var second = new SvdCache(dir.Path);
        var b = second.GetOrCompute(matrix, PlanningModels.Width, PlanningModels.Width, 10, new SvdOptions());

        Assert.Equal((1, 0), (first.Computed, first.Hits));
        Assert.Equal((0, 1), (second.Computed, second.Hits));
        Assert.Equal(a.S, b.S);
        Assert.NotEqual(SvdCache.Key(matrix, 64, 64, new SvdOptions()), SvdCache.Key(matrix, 64, 64, new SvdOptions { Seed = 1 }));
    }
}
