using System.Diagnostics;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using TensorData = OnnxFactorize.Validation.TensorData;

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
            planner._runOptions.Dispose();
            planner._sessionOptions?.Dispose();
        }
    }

    private AimetResult ExecuteAimet(IReadOnlyList<double> ratios, double? targetRatio)
    {
        var clock = Stopwatch.StartNew();
        var (_, graph, _, candidates, activations) = Prepare();
        var layers = new List<AimetLayer>();
        var policies = new List<RankPolicy[]>();
        foreach (var (node, _) in candidates)
        {
            var (layer, layerPolicies) = AimetLayerScores(graph, node, PassContext.Label(node), activations, ratios);
            layers.Add(layer);
            policies.Add(layerPolicies);
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
                var chosen = new Dictionary<string, RankPolicy>(StringComparer.Ordinal);
                for (var i = 0; i < layers.Count; i++)
                {
                    if (selection.Choice[i] >= 0)
                    {
                        chosen[layers[i].Name] = policies[i][selection.Choice[i]];
                    }
                }

                done = chosen.Count == 0 ? (new FactorizationResult(_model, []), 0) : MeasureBuilt(chosen);
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

    // One layer's dictionary row. A ratio c maps to the largest rank r ≤ break-even whose factorized cost (FLOPs, or
    // parameters for the params target, as the engine prices the node with RankPolicy.Fixed(r)) is at most c × the
    // original; for an SVD node that is ⌊c·mn/(m+n)⌋, RankPolicy.Compression(c). Each distinct rank is evaluated once with
    // only this layer compressed, on the whole model (shared sessions, as the planner's ladders).
    private (AimetLayer Layer, RankPolicy[] Policies) AimetLayerScores(ModelGraph graph, Node node, string label,
        IReadOnlyDictionary<string, TensorData> activations, IReadOnlyList<double> ratios)
    {
        var isolated = ProbeModels.Isolate(graph, node, label, activations);
        var isolatedNames = isolated.Proto.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var byParams = _options.Target == PlanTarget.Params;
        long Cost(FactorizationDecision d, bool after) => byParams ? (after ? d.ParamsAfter : d.ParamsBefore) : (after ? d.FlopsAfter : d.FlopsBefore);
        (FactorizationDecision? Decision, FactorizationResult Result) Price(int rank)
        {
            var result = FactorizeIsolated(isolated, label, RankPolicy.Fixed(rank));
            return (result.Decisions.Count > 0 ? result.Decisions[0] : null, result);
        }

        // Rank 1 tells the break-even and the original cost; ranks are then priced from the top down so the SVD is computed once.
        var (first, firstResult) = Price(1);
        if (first is null)
        {
            return (new AimetLayer(label, 0, []), []);
        }

        var before = Cost(first, after: false);
        var priced = new SortedDictionary<int, (FactorizationDecision Decision, FactorizationResult Result)>();
        for (var r = Math.Max(first.BreakEvenRank, 1); r >= 1; r--)
        {
            _ct.ThrowIfCancellationRequested();
            var (d, result) = r == 1 ? (first, firstResult) : Price(r);
            if (d is { Status: DecisionStatus.Factorized } && Cost(d, after: true) <= ratios[^1] * before)
            {
                priced[r] = (d, result);
            }
        }

        var ranks = ratios.Select(c => priced.Where(p => Cost(p.Value.Decision, after: true) <= c * before).Select(p => p.Key).DefaultIfEmpty(0).Max()).ToArray();
        var distinct = ranks.Where(r => r > 0).Distinct().Order().ToList();
        var rungs = distinct.Select(r => new Rung(0, RankPolicy.Fixed(r), priced[r].Decision, priced[r].Result.Model, ProbeModels.NewInitializers(priced[r].Result.Model, isolatedNames)))
            .ToList();
        if (rungs.Count == 0)
        {
            return (new AimetLayer(label, before, []), []);
        }

        var errors = RungErrors(label, rungs);
        var errorByRank = distinct.Select((r, i) => (Rank: r, Error: errors[i])).ToDictionary(x => x.Rank, x => x.Error);
        var entries = new List<AimetEntry>();
        var entryPolicies = new List<RankPolicy>();
        for (var i = 0; i < ratios.Count; i++)
        {
            if (ranks[i] > 0)
            {
                entries.Add(new AimetEntry(ratios[i], ranks[i], Cost(priced[ranks[i]].Decision, after: true), errorByRank[ranks[i]]));
                entryPolicies.Add(RankPolicy.Fixed(ranks[i]));
            }
        }

        return (new AimetLayer(label, before, entries), [.. entryPolicies]);
    }
}
