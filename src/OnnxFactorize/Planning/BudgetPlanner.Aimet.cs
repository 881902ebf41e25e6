using System.Diagnostics;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Planning;

public sealed partial class BudgetPlanner
{
    /// <summary>Runs <see cref="AimetGreedyBaseline"/> with this planner's reference run, calibration inputs, metric and
    /// shared-session error measurement, so the two differ only in the algorithm. No latency guard, no disk cache.</summary>
    internal static AimetResult RunAimet(OnnxModel model, BudgetOptions options, IReadOnlyList<double> ratios, double? targetRatio,
        SvdCache? svdCache, CancellationToken ct)
    {
        var planner = new BudgetPlanner(model, options with { LatencyGuard = false, CacheDirectory = null }, null, ct, null, null, svdCache ?? new SvdCache());
        try
        {
            return planner.ExecuteAimet(ratios, targetRatio);
        }
        finally
        {
            planner.Dispose();
        }
    }

    private AimetResult ExecuteAimet(IReadOnlyList<double> ratios, double? targetRatio)
    {
        var clock = Stopwatch.StartNew();
        var (_, _, candidates, _) = Prepare();
        var layers = new List<AimetLayer>();
        var policies = new List<FactorizationPlan[]>();
        for (var i = 0; i < candidates.Count; i++)
        {
            var (layer, layerPlans) = AimetLayerScores(i, ratios);
            layers.Add(layer);
            policies.Add(layerPlans);
        }

        var dictionarySeconds = clock.Elapsed.TotalSeconds;
        var dictionaryRun = _errorEvaluations;
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

                done = chosen.Count == 0 ? (new FactorizationResult(_model, []), 0) : MeasureAndEmit(chosen);
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
            final = (new AimetSelection(double.NegativeInfinity, none, 1, 0), 1, new FactorizationResult(_model, []), 0);
            double lo = 0, hi = 1;
            for (var step = 0; step < 12; step++)
            {
                _ct.ThrowIfCancellationRequested();
                var mid = (lo + hi) / 2;
                var attempt = Compress(mid);
                if (attempt.Error <= _options.Allowance)
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

    // Measures the chosen plans through the weight probe, then emits them into a fresh graph of the model (the reference
    // baseline keeps every answer it tried, so each gets its own rewrite).
    private (FactorizationResult Result, double Error) MeasureAndEmit(IReadOnlyDictionary<int, FactorizationPlan> chosen)
    {
        var error = ProbeError(chosen.ToDictionary(c => _probeIndex[c.Key], c => c.Value.Reconstruct()));
        var graph = ModelGraph.Import(_model, _graph.MeasuredShapes);
        var context = new PassContext(graph, _options.Factorize, _ct, _svdCache);
        var candidates = Factorizer.Candidates(graph, _options.Factorize, _rules).Where(c => c.Node.Graph == graph.Main).ToList();
        var plans = chosen.Select(c => Factorizer.Decide(candidates[c.Key], context, RankPolicy.Fixed(c.Value.Decision.Rank)).Plan!).ToList();
        return (Factorizer.Emit(_model, graph, plans), error);
    }

    // One layer's dictionary row. A ratio c maps to the largest rank r ≤ break-even whose factorized cost (FLOPs, or
    // parameters for the params target, as the rules price the node with RankPolicy.Fixed(r)) is at most c × the
    // original; for an SVD node that is ⌊c·mn/(m+n)⌋, RankPolicy.Compression(c). Each distinct rank is evaluated once with
    // only this layer compressed, on the whole model (through the weight probe, as the planner's ladders).
    private (AimetLayer Layer, FactorizationPlan[] Plans) AimetLayerScores(int index, IReadOnlyList<double> ratios)
    {
        var candidate = _candidates[index];
        var label = candidate.Label;
        var byParams = _options.Target == PlanTarget.Params;
        long Cost(FactorizationDecision d, bool after) => byParams ? (after ? d.ParamsAfter : d.ParamsBefore) : (after ? d.FlopsAfter : d.FlopsBefore);
        NodeOutcome Price(int rank) => Factorizer.Decide(candidate, _context, RankPolicy.Fixed(rank));

        // Rank 1 tells the break-even and the original cost; ranks are then priced from the top down so the SVD is computed once.
        var first = Price(1);
        if (_probeIndex[index] < 0)
        {
            return (new AimetLayer(label, 0, []), []);
        }

        var before = Cost(first.Decision, after: false);
        var priced = new SortedDictionary<int, FactorizationPlan>();
        for (var r = Math.Max(first.Decision.BreakEvenRank, 1); r >= 1; r--)
        {
            _ct.ThrowIfCancellationRequested();
            var outcome = r == 1 ? first : Price(r);
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

        var errorByRank = distinct.ToDictionary(r => r, r => ProbeError(new Dictionary<int, float[]> { [_probeIndex[index]] = priced[r].Reconstruct() }));
        _errorEvaluations += distinct.Count;
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
