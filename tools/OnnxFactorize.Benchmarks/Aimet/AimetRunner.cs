using System.Diagnostics;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;

namespace OnnxFactorize.Benchmarks.Aimet;

/// <summary>Runs <see cref="AimetGreedyBaseline"/> on the budget planner's machinery (reference run, calibration inputs,
/// metric, rules and weight-probe measurement), so the two differ only in the algorithm. No latency guard, no disk cache.</summary>
internal static class AimetRunner
{
    public static AimetResult Run(OnnxModel model, BudgetOptions options, IReadOnlyList<double> ratios, double? targetRatio,
        SvdCache? svdCache, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        using var planner = BudgetPlanner.Open(model, options, svdCache, ct);
        var layers = new List<AimetLayer>();
        var policies = new List<FactorizationPlan[]>();
        for (var i = 0; i < planner.CandidateNodes.Count; i++)
        {
            var (layer, layerPlans) = LayerScores(planner, i, ratios, ct);
            layers.Add(layer);
            policies.Add(layerPlans);
        }

        var dictionarySeconds = clock.Elapsed.TotalSeconds;
        var dictionaryRun = planner.Evaluations;
        var unchanged = new FactorizationResult(model, []);
        var tried = new Dictionary<string, (FactorizationResult Result, double Error)>(StringComparer.Ordinal);
        (AimetSelection Selection, double Target, FactorizationResult Result, double Error) Compress(double target)
        {
            var selection = AimetGreedyBaseline.Select(layers, target);
            var key = string.Join(",", selection.Choice);
            if (!tried.TryGetValue(key, out var done))
            {
                var chosen = new Dictionary<int, FactorizationPlan>();
                for (var i = 0; i < layers.Count; i++)
                {
                    if (selection.Choice[i] >= 0)
                    {
                        chosen[i] = policies[i][selection.Choice[i]];
                    }
                }

                // The baseline keeps every answer it tried, so each gets its own rewrite.
                done = chosen.Count == 0 ? (unchanged, 0) : (planner.EmitFresh(chosen), planner.Measure(chosen));
                tried[key] = done;
            }

            return (selection, target, done.Result, done.Error);
        }

        (AimetSelection Selection, double Target, FactorizationResult Result, double Error) final;
        if (targetRatio is { } fixedTarget)
        {
            final = Compress(fixedTarget);
        }
        else
        {
            // The benchmark's equal-budget protocol, not AIMET's: bisect the target for the most compressed model whose
            // measured metric is within budget (the uncompressed model always is).
            var none = Enumerable.Repeat(-1, layers.Count).ToArray();
            final = (new AimetSelection(double.NegativeInfinity, none, 1, 0), 1, unchanged, 0);
            double lo = 0, hi = 1;
            for (var step = 0; step < 12; step++)
            {
                ct.ThrowIfCancellationRequested();
                var mid = (lo + hi) / 2;
                var attempt = Compress(mid);
                if (attempt.Error <= planner.Options.Allowance)
                {
                    hi = mid;
                    if (attempt.Selection.OverallRatio < final.Selection.OverallRatio)
                    {
                        final = attempt;
                    }
                }
                else
                {
                    lo = mid;
                }
            }
        }

        return new AimetResult
        {
            Factorization = final.Result,
            Layers = layers,
            Selection = final.Selection,
            TargetRatio = final.Target,
            MeasuredError = final.Error,
            DictionaryEvaluations = layers.Count(l => l.Entries.Count > 0) * ratios.Count,
            DictionaryEvaluationsRun = dictionaryRun,
            FinalEvaluations = tried.Count(t => t.Value.Result.Changed),
            DictionarySeconds = dictionarySeconds,
            Seconds = clock.Elapsed.TotalSeconds,
        };
    }

    // One layer's dictionary row. A ratio c maps to the largest rank r ≤ break-even whose factorized cost (FLOPs, or
    // parameters for the params target, as the rules price the node with RankPolicy.Fixed(r)) is at most c × the
    // original; for an SVD node that is ⌊c·mn/(m+n)⌋, RankPolicy.Compression(c). Each distinct rank is evaluated once with
    // only this layer compressed, on the whole model (through the weight probe, as the planner's ladders).
    private static (AimetLayer Layer, FactorizationPlan[] Plans) LayerScores(BudgetPlanner planner, int index, IReadOnlyList<double> ratios, CancellationToken ct)
    {
        var label = planner.CandidateNodes[index].Label;
        var byParams = planner.Options.Target == PlanTarget.Params;
        long Cost(FactorizationDecision d, bool after) => byParams ? (after ? d.ParamsAfter : d.ParamsBefore) : (after ? d.FlopsAfter : d.FlopsBefore);

        // Rank 1 tells the break-even and the original cost; ranks are then priced from the top down so the SVD is computed once.
        var first = planner.Price(index, RankPolicy.Fixed(1));
        if (!planner.CanMeasure(index))
        {
            return (new AimetLayer(label, 0, []), []);
        }

        var before = Cost(first.Decision, after: false);
        var priced = new SortedDictionary<int, FactorizationPlan>();
        for (var r = Math.Max(first.Decision.BreakEvenRank, 1); r >= 1; r--)
        {
            ct.ThrowIfCancellationRequested();
            var outcome = r == 1 ? first : planner.Price(index, RankPolicy.Fixed(r));
            if (outcome.Plan is { } plan && Cost(plan.Decision, after: true) <= ratios[^1] * before)
            {
                priced[r] = plan;
            }
        }

        var ranks = ratios.Select(c => priced.Where(p => Cost(p.Value.Decision, after: true) <= c * before).Select(p => p.Key).DefaultIfEmpty(0).Max()).ToArray();
        var distinct = ranks.Where(r => r > 0).Distinct().Order().ToList();
        if (distinct.Count == 0)
        {
            return (new AimetLayer(label, before, []), []);
        }

        var errorByRank = distinct.ToDictionary(r => r, r => planner.Measure(new Dictionary<int, FactorizationPlan> { [index] = priced[r] }));
        planner.Evaluated(distinct.Count);
        var entries = new List<AimetEntry>();
        var entryPlans = new List<FactorizationPlan>();
        for (var i = 0; i < ratios.Count; i++)
        {
            if (ranks[i] > 0)
            {
                entries.Add(new AimetEntry(ratios[i], ranks[i], Cost(priced[ranks[i]].Decision, after: true), errorByRank[ranks[i]]));
                entryPlans.Add(priced[ranks[i]]);
            }
        }

        return (new AimetLayer(label, before, entries), [.. entryPlans]);
    }
}
