using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Validation;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Planning;

public sealed partial class BudgetPlanner
{
    // One priced rank of a node: the rung's policy and the plan the rules made for it (nothing emitted).
    private sealed record Rung(double Energy, RankPolicy Policy, FactorizationPlan Plan)
    {
        public FactorizationDecision Decision => Plan.Decision;

        public int RankSum => Decision.Ranks.Count > 0 ? Decision.Ranks.Sum() : Decision.Rank;
    }

    // Values feeding the candidates' activation inputs and the candidates' outputs, from one run of the original on the
    // first sample: their real shapes (so FLOPs are counted at real spatial sizes) and data (for isolated latency probes).
    private Dictionary<string, TensorData> Activations(IEnumerable<Node> nodes)
    {
        var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var t in _firstSample)
        {
            result[t.Name] = t;
        }

        var list = nodes.ToList();
        var wanted = list.SelectMany(n => n.Inputs).Where(v => v is not null && PassContext.ConstantTensor(v) is null && !result.ContainsKey(v.Name))
            .Select(v => v!.Name)
            .Concat(list.SelectMany(n => n.Outputs).Select(v => v.Name).Where(n => n.Length > 0 && !result.ContainsKey(n)))
            .Distinct(StringComparer.Ordinal).ToList();
        if (wanted.Count == 0)
        {
            return result;
        }

        using var session = ProbeModels.Open(ProbeModels.WithOutputs(_model, wanted), _sessionOptions, _model.Name);
        var values = ModelValidator.Run(session, _firstSample, wanted, _runOptions, _model.Name);
        foreach (var v in values)
        {
            result[v.Name] = v;
        }

        return result;
    }

    // The rungs of one node's ladder, priced by Plan alone: energies, the break-even rank, cost fractions.
    private (List<Rung> Rungs, FactorizationDecision? First) PriceLadder(NodeCandidate candidate)
    {
        var rungs = new List<Rung>();
        FactorizationDecision? first = null;
        void Try(double energy, RankPolicy policy)
        {
            var outcome = Factorizer.Decide(candidate, _context, policy);
            first ??= outcome.Decision;
            var d = outcome.Decision;
            if (outcome.Plan is { } plan && !rungs.Any(r => r.Decision.Method == d.Method && r.Decision.Ranks.SequenceEqual(d.Ranks)))
            {
                rungs.Add(new Rung(energy, policy, plan));
            }
        }

        // The SVD is decomposed once (to break-even + 1 by the first energy rung) and every other rung truncates it.
        foreach (var energy in _options.Energies.Order())
        {
            Try(energy, RankPolicy.Energy(energy));
        }

        var breakEven = first?.BreakEvenRank ?? 0;
        var multiple = _options.Factorize.RankMultiple;
        var top = breakEven / multiple * multiple;
        if (top >= 1)
        {
            Try(0, RankPolicy.Fixed(top));
        }

        // Energy levels crowd the high-rank end (a decaying spectrum reaches 0.8 of its energy early); cost fractions
        // spread rungs over the low-rank end, where a robust node can save most.
        foreach (var fraction in _options.CostFractions.Order())
        {
            Try(0, RankPolicy.Compression(fraction));
        }

        rungs.Sort((a, b) => a.RankSum.CompareTo(b.RankSum));
        return (rungs, first);
    }

    private NodePlan MeasureNode(NodeCandidate candidate, int nodeIndex, IReadOnlyDictionary<string, TensorData> activations, int index, int total)
    {
        var probeIndex = _probeIndex[nodeIndex];
        var label = candidate.Label;
        Report(PlanPhase.Ladder, index, total, label);
        List<Rung> rungs;
        FactorizationDecision? first;
        using (Time(_pricing))
        {
            (rungs, first) = PriceLadder(candidate);
        }

        // Bisection may measure fewer rungs than this; the ETA then only improves as the node finishes early.
        NodePriced(nodeIndex, 1 + (probeIndex < 0 ? 0 : rungs.Count * (MeasuresLatency ? 2 : 1)));
        NodeStep(nodeIndex);

        var before = first is null ? new NodePlan { NodeName = label, OpType = candidate.Node.OpType }
            : new NodePlan
            {
                NodeName = label,
                OpType = candidate.Node.OpType,
                ParamsBefore = first.ParamsBefore,
                FlopsBefore = first.FlopsBefore,
                BreakEvenRank = first.BreakEvenRank,
                Reason = first.Reason,
            };
        if (rungs.Count == 0)
        {
            return before with { Reason = first?.Reason is { Length: > 0 } r ? r : "no rule could factorize it" };
        }

        if (probeIndex < 0)
        {
            return before with { Reason = $"weight type of '{rungs[0].Plan.Candidate.Weight.Name}' cannot be fed to the measuring probe (FLOAT, FLOAT16 and DOUBLE can); left as it is" };
        }

        Report(PlanPhase.Sensitivity, index, total, $"{label}: {rungs.Count} ranks");
        double[] errors;
        using (Time(_evaluation))
        using (var evaluator = OpenEvaluator(probeIndex))
        {
            errors = MeasureLadder(rungs.Count, i =>
            {
                var error = evaluator.Evaluate(rungs[i].Plan.Reconstruct());
                NodeStep(nodeIndex);
                Report(PlanPhase.Sensitivity, index, total, $"{label}: rank {i + 1}/{rungs.Count} measured");
                return error;
            });
        }

        var timings = new NodeTiming?[rungs.Count];
        var slower = new bool[rungs.Count];
        if (MeasuresLatency)
        {
            Report(PlanPhase.Latency, index, total, label);
            using var timed = Time(_latency);
            var isolated = ProbeModels.Isolate(candidate.Node, label, activations);
            var isolatedBytes = isolated.ToBytes();
            var isolatedInputs = isolated.Proto.Graph.Input.Select(i => activations[i.Name]).ToList();
            var measuredRungs = Enumerable.Range(0, rungs.Count).Where(i => !double.IsNaN(errors[i])).ToList();
            slower = MeasureLatencies(measuredRungs, rungs.Count, i =>
            {
                _ct.ThrowIfCancellationRequested();
                var factorized = FactorizeIsolated(isolated, rungs[i].Policy);
                _latencyMeasurements++;
                NodeStep(nodeIndex);
                return timings[i] = _meter.Measure(new NodeLatencyProbe(label, rungs[i].Decision.Rank, isolatedBytes, factorized.ToBytes(), isolatedInputs), _options.Latency, _ct);
            });
        }

        // The ladder keeps the measured rungs: bisection leaves out the cheap ones over budget alone and, under the latency
        // guard, the untimed ones past the last rung found faster than the original.
        var kept = Enumerable.Range(0, rungs.Count).Where(i => !double.IsNaN(errors[i]) && (timings[i] is not null || !slower[i])).ToList();
        rungs = [.. kept.Select(i => rungs[i])];
        errors = [.. kept.Select(i => errors[i])];
        timings = [.. kept.Select(i => timings[i])];
        for (var i = 0; i < rungs.Count; i++)
        {
            _rungPlans[(nodeIndex, i)] = rungs[i].Plan;
        }

        var ladder = rungs.Select((r, i) => new LadderPoint
        {
            Energy = r.Energy,
            Rank = r.Decision.Rank,
            Ranks = r.Decision.Ranks,
            Method = r.Decision.Method,
            Error = errors[i],
            WeightRelError = r.Decision.WeightRelError,
            Params = r.Decision.ParamsAfter,
            Flops = r.Decision.FlopsAfter,
            LatencyMs = timings[i]?.FactorizedMs,
            Speedup = timings[i]?.Speedup,
        }).ToList();
        var measured = timings.Where(t => t is not null).Select(t => t!.OriginalMs).ToList();
        return before with
        {
            Ladder = ladder,
            OriginalLatencyMs = measured.Count > 0 ? LatencyBenchmark.Median(measured) : null,
            LatencyBreakEvenRank = ladder.Where(p => MeasuresLatency && p.Speedup is not < 1.0).Select(p => p.Rank).DefaultIfEmpty(0).Max(),
        };
    }

    // The whole model's error with the given candidates (probe index → Ŵ) factorized and every other weight as it is, on
    // the calibration samples, through the one probe session (or a session of its own per evaluation without shared sessions).
    private double ProbeError(IReadOnlyDictionary<int, float[]> replaced, int samples = int.MaxValue)
    {
        _probe ??= WeightProbe.Build(_model, _probed);
        var feeds = _probe.Feeds(replaced);
        if (_options.SharedSessions)
        {
            if (_probeSession is null)
            {
                _probeSession = ProbeModels.Open(_probe.Bytes, _sessionOptions, $"{_model.Name} (measuring probe)");
                _sessions++;
            }

            return MeasureError(_probeSession, _ => feeds, samples);
        }

        using var session = ProbeModels.Open(_probe.Bytes, _sessionOptions, $"{_model.Name} (measuring probe)");
        _sessions++;
        return MeasureError(session, _ => feeds, samples);
    }

    // The one-node timing model with its node factorized by the rung's policy: a rewrite of that one-node model only.
    private OnnxModel FactorizeIsolated(OnnxModel isolated, RankPolicy policy)
    {
        var graph = ModelGraph.Import(isolated);
        var context = new PassContext(graph, _options.Factorize, _ct, _svdCache);
        var candidate = Factorizer.Candidates(graph, _options.Factorize with { Only = null, Exclude = null }, _rules).Single();
        var outcome = Factorizer.Decide(candidate, context, policy);
        return outcome.Plan is { } plan ? Factorizer.Emit(isolated, graph, [plan]).Model : isolated;
    }
}
