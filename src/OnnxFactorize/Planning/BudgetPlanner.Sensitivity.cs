using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using OnnxFactorize.Validation;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Planning;

public sealed partial class BudgetPlanner
{
    // One factorization of an isolated node: the rung's policy, what the pass decided, the isolated factorized model and its factors.
    private sealed record Rung(double Energy, RankPolicy Policy, FactorizationDecision Decision, OnnxModel Model, IReadOnlyList<TensorProto> Factors)
    {
        public int RankSum => Decision.Ranks.Count > 0 ? Decision.Ranks.Sum() : Decision.Rank;
    }

    // Values feeding the candidates' activation inputs, from one run of the original on the first sample: their real
    // shapes and data, for the isolated one-node models.
    private Dictionary<string, TensorData> Activations(ModelGraph graph, IEnumerable<Node> nodes, IReadOnlyList<ModelInput> inputs)
    {
        var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var t in _samples[0])
        {
            result[t.Name] = t;
        }

        var wanted = nodes.SelectMany(n => n.Inputs).Where(v => v is not null && PassContext.ConstantTensor(v) is null && !result.ContainsKey(v.Name))
            .Select(v => v!.Name).Distinct(StringComparer.Ordinal).ToList();
        if (wanted.Count == 0)
        {
            return result;
        }

        using var session = ProbeModels.Open(ProbeModels.WithOutputs(_model, wanted), _sessionOptions, _model.Name);
        var values = ModelValidator.Run(session, _samples[0], wanted, _runOptions, _model.Name);
        foreach (var v in values)
        {
            result[v.Name] = v;
        }

        return result;
    }

    private NodePlan MeasureNode(ModelGraph graph, Node node, string label, IReadOnlyDictionary<string, TensorData> activations, int index, int total)
    {
        Report(PlanPhase.Ladder, index, total, label);
        var isolated = ProbeModels.Isolate(graph, node, label, activations);
        var isolatedNames = isolated.Proto.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var rungs = new List<Rung>();
        FactorizationDecision? first = null;
        void Try(double energy, RankPolicy policy)
        {
            var result = FactorizeIsolated(isolated, label, policy);
            if (result.Decisions.Count == 0)
            {
                return;
            }

            var d = result.Decisions[0];
            first ??= d;
            if (d.Status == DecisionStatus.Factorized && !rungs.Any(r => r.Decision.Method == d.Method && r.Decision.Ranks.SequenceEqual(d.Ranks)))
            {
                rungs.Add(new Rung(energy, policy, d, result.Model, ProbeModels.NewInitializers(result.Model, isolatedNames)));
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

        var before = first is null ? new NodePlan { NodeName = label, OpType = node.OpType }
            : new NodePlan
            {
                NodeName = label,
                OpType = node.OpType,
                ParamsBefore = first.ParamsBefore,
                FlopsBefore = first.FlopsBefore,
                BreakEvenRank = breakEven,
                Reason = first.Reason,
            };
        if (rungs.Count == 0)
        {
            return before with { Reason = first?.Reason is { Length: > 0 } r ? r : "no pass could factorize it" };
        }

        rungs.Sort((a, b) => a.RankSum.CompareTo(b.RankSum));
        Report(PlanPhase.Sensitivity, index, total, $"{label}: {rungs.Count} ranks");
        var errors = RungErrors(label, rungs);
        var timings = new NodeTiming?[rungs.Count];
        if (MeasuresLatency)
        {
            Report(PlanPhase.Latency, index, total, label);
            var isolatedBytes = isolated.ToBytes();
            var isolatedInputs = isolated.Proto.Graph.Input.Select(i => activations[i.Name]).ToList();
            for (var i = 0; i < rungs.Count; i++)
            {
                _ct.ThrowIfCancellationRequested();
                timings[i] = _meter.Measure(new NodeLatencyProbe(label, rungs[i].Decision.Rank, isolatedBytes, rungs[i].Model.ToBytes(), isolatedInputs), _options.Latency, _ct);
                _latencyMeasurements++;
            }
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
            LatencyBreakEvenRank = ladder.Where(p => p.Speedup is >= 1.0).Select(p => p.Rank).DefaultIfEmpty(0).Max(),
        };
    }

    // End-to-end error of every rung with only this node factorized. Rungs sharing a structure share one session: the full
    // model factorized at the largest rank, its factors turned into inputs, fed each rung's factors zero-padded to that size.
    private double[] RungErrors(string label, List<Rung> rungs)
    {
        var errors = new double[rungs.Count];
        var originalNames = _model.Proto.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var groups = rungs.Select((r, i) => (Rung: r, Index: i))
            .GroupBy(x => _options.SharedSessions && ProbeModels.PaddableMethods.Contains(x.Rung.Decision.Method) && x.Rung.Factors.All(ProbeModels.CanFeed)
                ? Signature(x.Rung) : $"alone#{x.Index}");
        foreach (var group in groups)
        {
            _ct.ThrowIfCancellationRequested();
            var members = group.ToList();
            var host = members.MaxBy(m => m.Rung.RankSum).Rung;
            var full = Build(_model, new Dictionary<string, RankPolicy> { [label] = host.Policy });
            var fullFactors = ProbeModels.NewInitializers(full.Model, originalNames);
            var shared = members.Count > 1 && fullFactors.Count == host.Factors.Count;
            if (!shared)
            {
                // Unpaddable structure (or a single rung): its own full model, factors kept as initializers.
                foreach (var (rung, i) in members)
                {
                    var own = rung == host ? full : Build(_model, new Dictionary<string, RankPolicy> { [label] = rung.Policy });
                    using var session = ProbeModels.Open(own.Model.ToBytes(), _sessionOptions, $"{_model.Name} with '{label}' factorized");
                    _sessions++;
                    errors[i] = MeasureError(session, _ => []);
                    _errorEvaluations++;
                }

                continue;
            }

            var padded = Enumerable.Range(0, fullFactors.Count)
                .Select(k => Enumerable.Range(0, fullFactors[k].Dims.Count).Select(a => members.Max(m => m.Rung.Factors[k].Dims[a])).ToArray())
                .ToList();
            using (var session = ProbeModels.Open(ProbeModels.FeedFactors(full.Model, fullFactors, padded), _sessionOptions, $"{_model.Name} with '{label}' factorized"))
            {
                _sessions++;
                foreach (var (rung, i) in members)
                {
                    var feeds = rung.Factors.Select((f, k) => ProbeModels.Pad(f, fullFactors[k].Name, padded[k], rung.Model)).ToList();
                    errors[i] = MeasureError(session, _ => feeds);
                    _errorEvaluations++;
                }
            }
        }

        return errors;
    }

    // Rungs with the same method, factor count, factor ranks and types differ only in their rank axes.
    private static string Signature(Rung rung) =>
        rung.Decision.Method + "|" + string.Join(";", rung.Factors.Select(f => $"{f.DataType}:{f.Dims.Count}")) + "|" +
        string.Join(",", rung.Model.Proto.Graph.Node.Select(n => n.OpType));
}
