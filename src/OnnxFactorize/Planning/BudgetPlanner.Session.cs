using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Planning;

/// <content>The planner's machinery opened for reference baselines (tools/: the AIMET greedy selection), so a baseline
/// differs from the planner only in its algorithm: the same reference run, calibration inputs, metric, rules and
/// weight-probe measurement.</content>
public sealed partial class BudgetPlanner : IDisposable
{
    /// <summary>A planner over <paramref name="model"/> with the reference run done and the candidates matched; no latency
    /// guard, no disk cache. Dispose it.</summary>
    internal static BudgetPlanner Open(OnnxModel model, BudgetOptions options, SvdCache? svdCache, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var planner = new BudgetPlanner(model, options with { LatencyGuard = false, CacheDirectory = null }, null, ct, null, null, svdCache ?? new SvdCache());
        planner.Prepare();
        return planner;
    }

    /// <summary>The main-graph candidates, in graph order.</summary>
    internal IReadOnlyList<NodeCandidate> CandidateNodes => _candidates;

    /// <summary>The options (budget metric and allowance, target).</summary>
    internal BudgetOptions Options => _options;

    /// <summary>The model planned.</summary>
    internal OnnxModel Model => _model;

    /// <summary>Whole-model evaluations counted so far (see <see cref="Evaluated"/>).</summary>
    internal int Evaluations => _errorEvaluations;

    /// <summary>The rules' plan for candidate <paramref name="index"/> under <paramref name="policy"/>; nothing is emitted.</summary>
    internal NodeOutcome Price(int index, RankPolicy policy) => Factorizer.Decide(_candidates[index], _context, policy);

    /// <summary>Whether candidate <paramref name="index"/> can be measured (its weight type can be fed to the probe).</summary>
    internal bool CanMeasure(int index) => _probeIndex[index] >= 0;

    /// <summary>The budget metric of the whole model with the given plans (candidate index → plan) factorized, measured
    /// through the weight probe.</summary>
    internal double Measure(IReadOnlyDictionary<int, FactorizationPlan> chosen) =>
        ProbeError(chosen.ToDictionary(c => _probeIndex[c.Key], c => c.Value.Reconstruct()));

    /// <summary>Counts <paramref name="count"/> whole-model evaluations.</summary>
    internal void Evaluated(int count) => _errorEvaluations += count;

    /// <summary>A fresh rewrite of the model with the given candidates factorized at their plans' ranks.</summary>
    internal FactorizationResult EmitFresh(IReadOnlyDictionary<int, FactorizationPlan> chosen)
    {
        var graph = ModelGraph.Import(_model, _graph.MeasuredShapes);
        var context = new PassContext(graph, _options.Factorize, _ct, _svdCache);
        var candidates = Factorizer.Candidates(graph, _options.Factorize, _rules).Where(c => c.Node.Graph == graph.Main).ToList();
        var plans = chosen.Select(c => Factorizer.Decide(candidates[c.Key], context, RankPolicy.Fixed(c.Value.Decision.Rank)).Plan!).ToList();
        return Factorizer.Emit(_model, graph, plans);
    }

    /// <summary>Releases the sessions.</summary>
    public void Dispose()
    {
        _probeSession?.Dispose();
        _samples.Dispose();
        _reference.Dispose();
        _runOptions.Dispose();
        _sessionOptions?.Dispose();
    }
}
