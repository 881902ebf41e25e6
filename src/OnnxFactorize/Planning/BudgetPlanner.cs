using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Calibration;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Validation;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Planning;

/// <summary>Compresses a model as much as the budget allows, decided by measurement in ONNX Runtime: per candidate node it
/// measures the end-to-end error of every rung of a rank ladder (only that node factorized), times the factorized node
/// against the original, allocates one rank per node by benefit per unit of budget, then verifies the whole model and
/// backs off until the measured error is within budget; what budget is left is then spent by measured refinement, one
/// rung change at a time, each kept only when the whole model stays within budget. The answer always meets the budget
/// on the calibration inputs; when nothing fits, the model comes back unchanged.</summary>
public sealed partial class BudgetPlanner
{
    // Bumped whenever what a cached node ladder means changes.
    private const int CacheVersion = 4;

    private readonly OnnxModel _model;
    private readonly BudgetOptions _options;
    private readonly IProgress<PlanProgress>? _progress;
    private readonly CancellationToken _ct;
    private readonly INodeLatencyMeter _meter;
    private readonly IReadOnlyList<IFactorizationRule> _rules;
    private readonly SvdCache _svdCache;
    private readonly PlanCache _planCache;
    private readonly Dictionary<(int Node, int Rung), FactorizationPlan> _rungPlans = [];
    private ModelGraph _graph = null!;
    private PassContext _context = null!;
    private List<NodeCandidate> _candidates = [];
    private int[] _probeIndex = [];
    private readonly List<FactorizationCandidate> _probed = [];
    private WeightProbe? _probe;
    private InferenceSession? _probeSession;
    private readonly RunOptions _runOptions = new();
    private IReadOnlyList<string> _outputNames = [];
    private long[]? _labels;
    private SessionOptions _sessionOptions = null!;
    private int _errorEvaluations;
    private int _sessions;
    private int _latencyMeasurements;
    private int _nodeCacheHits;
    private int _verifications;

    private BudgetPlanner(OnnxModel model, BudgetOptions options, IProgress<PlanProgress>? progress, CancellationToken ct,
        INodeLatencyMeter? meter, IReadOnlyList<IFactorizationRule>? rules, SvdCache? svdCache)
    {
        _model = model;
        _options = options;
        _progress = progress;
        _ct = ct;
        _meter = meter ?? new OrtNodeLatencyMeter();
        _rules = rules ?? Factorizer.DefaultRules;
        _svdCache = svdCache ?? new SvdCache(options.CacheDirectory is { } dir ? Path.Combine(dir, "svd") : null);
        _planCache = new PlanCache(options.CacheDirectory is { } d ? Path.Combine(d, "nodes") : null);
    }

    /// <summary>Plans and builds the factorized model for <paramref name="model"/> under <paramref name="options"/>.
    /// <paramref name="latencyMeter"/> replaces ONNX Runtime timing (tests); <paramref name="svdCache"/> shares decompositions
    /// with the caller (default: the options' cache folder).</summary>
    public static BudgetResult Run(OnnxModel model, BudgetOptions options, IProgress<PlanProgress>? progress = null,
        CancellationToken cancellationToken = default, INodeLatencyMeter? latencyMeter = null,
        IReadOnlyList<IFactorizationRule>? rules = null, SvdCache? svdCache = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var planner = new BudgetPlanner(model, options, progress, cancellationToken, latencyMeter, rules, svdCache);
        try
        {
            return planner.Execute();
        }
        finally
        {
            planner.Dispose();
        }
    }

    private bool MeasuresLatency => _options.LatencyGuard || _options.Target == PlanTarget.Latency;

    private BudgetResult Execute()
    {
        var clock = Stopwatch.StartNew();
        var computedBefore = _svdCache.Computed;
        var hitsBefore = _svdCache.Hits;
        var (modelBytes, all, candidates, activations) = Prepare();
        var baseKey = PlanCache.Key(CacheVersion, SHA256.HashData(modelBytes), _samplesHash, _options.Metric, string.Join(",", _options.Energies), string.Join(",", _options.CostFractions),
            _options.Factorize.RankMultiple, string.Join(",", _options.Factorize.Methods), _options.Factorize.AllowOverridableWeights,
            _options.Factorize.Svd.Seed, _options.Factorize.Svd.Oversamples, _options.Factorize.Svd.PowerIterations, _options.SharedSessions,
            MeasuresLatency ? MachineFingerprint() : "no-latency",
            // A bisected ladder depends on the budget (and, timed, on the target); rungs on the first samples on how many.
            _options.BisectLadder ? $"bisect {_options.Allowance} {_options.Target}" : "full", _options.SensitivitySamples, StatisticsKey());

        Report(PlanPhase.Estimate, 0, 1, Estimate(Enumerable.Range(0, candidates.Count).Count(i => _probeIndex[i] >= 0)));
        var plans = new List<NodePlan>();
        BeginNodeWork(candidates);
        for (var i = 0; i < candidates.Count; i++)
        {
            _ct.ThrowIfCancellationRequested();
            var label = candidates[i].Label;
            Report(PlanPhase.Sensitivity, i, candidates.Count, label);
            var key = PlanCache.Key(baseKey, label);
            if (_planCache.TryRead(key) is { } cached)
            {
                _nodeCacheHits++;
                NodeCached(i);
                plans.Add(cached);
                continue;
            }

            var plan = MeasureNode(candidates[i], i, activations, i, candidates.Count);
            _planCache.Write(key, plan);
            plans.Add(plan);
        }

        Report(PlanPhase.Sensitivity, candidates.Count, candidates.Count, "");
        var (allocated, allocatedChoice, steps, allocatedError) = Allocate(plans);
        var (final, chosen, measured, refinement) = Refine(plans, allocated, allocatedChoice, allocatedError, steps);
        var nodes = plans.Select((p, i) => p with
        {
            ChosenRank = chosen[i] < 0 ? 0 : p.Ladder[chosen[i]].Rank,
            Reason = Explain(p, i, chosen[i], measured, refinement),
        }).ToList();
        foreach (var c in all.Where(c => c.Node.Graph != _graph.Main))
        {
            nodes.Add(new NodePlan { NodeName = c.Label, OpType = c.Node.OpType, Reason = "in a subgraph: the planner measures main-graph nodes only; left as it is" });
        }

        // The one rewrite of the run: the chosen plans emitted into the planner's graph.
        final = chosen.Any(c => c >= 0) ? Factorizer.Emit(_model, _graph, ChosenPlans(plans, chosen)) : new FactorizationResult(_model, []);

        var decisions = Decisions(final, nodes);
        var plan2 = new BudgetPlan
        {
            Budget = _options.DescribeBudget(),
            Metric = _options.Metric,
            Allowance = _options.Allowance,
            Target = _options.Target,
            FinalError = measured,
            Nodes = nodes,
            Verifications = steps,
            SampleCount = _samples.Count,
            Stats = new PlanStats
            {
                Decompositions = _svdCache.Computed - computedBefore,
                DecompositionCacheHits = _svdCache.Hits - hitsBefore,
                ErrorEvaluations = _errorEvaluations,
                SensitivitySessions = _sessions,
                LatencyMeasurements = _latencyMeasurements,
                NodeCacheHits = _nodeCacheHits,
                Verifications = _verifications,
                Seconds = clock.Elapsed.TotalSeconds,
                PricingSeconds = _pricing.Elapsed.TotalSeconds,
                EvaluationSeconds = _evaluation.Elapsed.TotalSeconds,
                LatencySeconds = _latency.Elapsed.TotalSeconds,
                VerificationSeconds = _verification.Elapsed.TotalSeconds,
                DownstreamNodes = _downstreamNodes,
            },
        };
        Report(PlanPhase.Done, 1, 1, final.Changed ? $"measured {Format(measured)} within {_options.DescribeBudget()}" : "nothing fits the budget; model unchanged");
        return new BudgetResult(new FactorizationResult(final.Model, decisions), plan2);
    }

    // Runs the original on the calibration samples (the reference), lists the candidate nodes (main graph, measured shapes)
    // and matches each once: the weight probe measures every matched candidate whose weight type can be fed.
    private (byte[] ModelBytes, List<NodeCandidate> All, List<NodeCandidate> Candidates, Dictionary<string, TensorData> Activations) Prepare()
    {
        Report(PlanPhase.Reference, 0, 1, "running the original model");

        // Accuracy sessions use every core; node timing uses the latency options' own threads.
        _sessionOptions = ModelValidator.CreateSessionOptions(_options.Latency with { IntraOpThreads = 0 });
        var modelBytes = _model.ToBytes();
        IReadOnlyList<ModelInput> inputs;
        using (var original = ProbeModels.Open(modelBytes, _sessionOptions, _model.Name))
        {
            inputs = ModelInput.FromSession(original);
            _outputNames = [.. original.OutputNames];
            // Streamed: each sample is read or generated when reached and goes to the calibration store with its reference outputs.
            var samples = _options.Inputs.Path is { } path ? CalibrationInputs.Stream(path) : SampleLoader.GenerateEach(inputs, _options.Inputs, _options.Inputs.RandomSamples);
            StoreReference(original, samples.Select(s => SampleLoader.Bind(s, inputs)));
        }

        _labels = _options.Inputs.LabelsPath is { } lp ? SampleLoader.ReadLabels(lp) : null;
        _graph = ModelGraph.Import(_model);
        var all = Factorizer.Candidates(_graph, _options.Factorize, _rules).ToList();
        var candidates = all.Where(c => c.Node.Graph == _graph.Main).ToList();
        var activations = Activations(candidates.Select(c => c.Node));
        _graph.AddMeasuredShapes(activations.ToDictionary(a => a.Key, a => a.Value.Shape.ToArray(), StringComparer.Ordinal));
        // Data-aware rungs: whitened on the uncentered Gram, no bias shift, so the probe's Ŵ is the whole rewrite it measures.
        _context = new PassContext(_graph, _options.Factorize, _ct, _svdCache)
        {
            InputStatistics = _options.InputStatistics ?? new Dictionary<string, GramAccumulator>(),
            CorrectBias = false,
        };
        _candidates = candidates;
        _probeIndex = new int[candidates.Count];
        for (var i = 0; i < candidates.Count; i++)
        {
            _probeIndex[i] = -1;
            if (candidates[i].Rules[0].Match(candidates[i].Node, _context).Candidate is { } matched && WeightProbe.CanFeed(matched))
            {
                _probeIndex[i] = _probed.Count;
                _probed.Add(matched);
            }
        }

        return (modelBytes, all, candidates, activations);
    }

    // The allocation loop: allocate on the estimate, verify end to end, rescale the estimate by what was measured (down when
    // over, up when well under), keep the best verified answer; if none verified, back off node by node.
    private (FactorizationResult Final, int[] Choice, List<VerificationStep> Steps, double Measured) Allocate(List<NodePlan> plans)
    {
        var allowed = plans.Select(p => p.Ladder.Select(Allowed).ToArray()).ToList();
        var metric = _options.Metric;
        var allowance = _options.Allowance;
        var budget = RankAllocator.Cost(allowance, metric);
        var steps = new List<VerificationStep>();
        var unchanged = new FactorizationResult(_model, []);
        (FactorizationResult Result, int[] Choice, double Measured, double Objective)? best = null;
        var scale = 1.0;
        var tried = new HashSet<string>(StringComparer.Ordinal);
        int[]? last = null;
        for (var iteration = 1; iteration <= _options.MaxVerifications; iteration++)
        {
            var choice = RankAllocator.Allocate(plans, allowed, budget * scale, _options.Target, metric);
            if (choice.All(c => c < 0) || !tried.Add(string.Join(",", choice)))
            {
                break;
            }

            last = choice;
            var estimated = RankAllocator.Estimate(plans, choice, metric);
            var objective = RankAllocator.Objective(plans, choice, _options.Target);
            Report(PlanPhase.Verify, iteration, _options.MaxVerifications, $"verifying {choice.Count(c => c >= 0)} nodes (estimated {Format(estimated)})");
            var (result, measured) = Verify(plans, choice);
            var within = measured <= allowance;
            if (within && (best is null || objective > best.Value.Objective))
            {
                best = (result, choice, measured, objective);
            }

            // Rescale the estimate's budget by how far the measurement is from the limit (in cost units), damped when over.
            var ratio = RankAllocator.Cost(allowance, metric) / Math.Max(RankAllocator.Cost(measured, metric), 1e-30);
            var action = within
                ? measured >= 0.9 * allowance ? "within budget; kept" : "within budget; trying to spend more of it"
                : "over budget; tightening the estimate";
            steps.Add(new VerificationStep(iteration, estimated, measured, objective, action));
            if (within && measured >= 0.9 * allowance)
            {
                break;
            }

            scale *= within ? Math.Min(ratio, 4) : Math.Min(ratio, 1) * 0.9;
        }

        if (best is null && last is not null)
        {
            // Back off: raise the rank of (then drop) the node spending the most budget until the measurement fits.
            var choice = (int[])last.Clone();
            while (choice.Any(c => c >= 0))
            {
                _ct.ThrowIfCancellationRequested();
                var worst = Enumerable.Range(0, plans.Count).Where(i => choice[i] >= 0)
                    .MaxBy(i => RankAllocator.Cost(plans[i].Ladder[choice[i]].Error, metric));
                var up = Enumerable.Range(choice[worst] + 1, plans[worst].Ladder.Count - choice[worst] - 1).FirstOrDefault(j => allowed[worst][j], -1);
                choice[worst] = up;
                if (choice.All(c => c < 0))
                {
                    steps.Add(new VerificationStep(steps.Count + 1, 0, 0, 0, $"backed off '{plans[worst].NodeName}'; nothing left to factorize"));
                    break;
                }

                var (result, measured) = Verify(plans, choice);
                var objective = RankAllocator.Objective(plans, choice, _options.Target);
                var action = up < 0 ? $"backed off: dropped '{plans[worst].NodeName}'" : $"backed off: raised '{plans[worst].NodeName}' to rank {plans[worst].Ladder[up].Rank}";
                steps.Add(new VerificationStep(steps.Count + 1, RankAllocator.Estimate(plans, choice, metric), measured, objective, action));
                if (measured <= allowance)
                {
                    best = (result, choice, measured, objective);
                    break;
                }
            }
        }

        return best is { } b ? (b.Result, b.Choice, steps, b.Measured) : (unchanged, Enumerable.Repeat(-1, plans.Count).ToArray(), steps, 0);
    }

    // A rung may be chosen when its error is finite and, when latency is measured, it is not slower than the original.
    private bool Allowed(LadderPoint point) => double.IsFinite(point.Error) && (!MeasuresLatency || point.Speedup is not { } s || s >= 1.0);

    // Measures the whole model with exactly the chosen rungs factorized, through the weight probe; nothing is emitted. The
    // result carries the chosen plans' decisions over the unchanged model (the answer is emitted once, at the end).
    private (FactorizationResult Result, double Measured) Verify(IReadOnlyList<NodePlan> plans, int[] choice)
    {
        _verifications++;
        using var timed = Time(_verification);
        var chosen = ChosenPlans(plans, choice);
        var replaced = new Dictionary<int, float[]>();
        for (var i = 0; i < plans.Count; i++)
        {
            if (choice[i] >= 0 && _rungPlans.TryGetValue((i, choice[i]), out var plan))
            {
                replaced[_probeIndex[i]] = plan.Reconstruct();
            }
        }

        return (new FactorizationResult(_model, [.. chosen.Select(p => p.Decision)]), ProbeError(replaced));
    }

    // The plan of each chosen rung: the one priced while measuring the ladder, or (for a ladder read from the cache) the
    // rules' plan for the rung's policy, priced again from the cached decompositions.
    private List<FactorizationPlan> ChosenPlans(IReadOnlyList<NodePlan> plans, int[] choice)
    {
        var result = new List<FactorizationPlan>();
        for (var i = 0; i < plans.Count; i++)
        {
            if (choice[i] < 0)
            {
                continue;
            }

            if (!_rungPlans.TryGetValue((i, choice[i]), out var plan))
            {
                plan = Factorizer.Decide(_candidates[i], _context, plans[i].Ladder[choice[i]].Policy()).Plan
                    ?? throw new InvalidOperationException($"node '{plans[i].NodeName}': the cached rung at rank {plans[i].Ladder[choice[i]].Rank} no longer plans");
                _rungPlans[(i, choice[i])] = plan;
            }

            result.Add(plan);
        }

        return result;
    }

    private double Metric(IReadOnlyList<OutputMetrics> outputs)
    {
        switch (_options.Metric)
        {
            case BudgetMetric.AccuracyDrop:
                return outputs.Where(o => o.Classification?.AccuracyDropPoints is not null).Select(o => o.Classification!.AccuracyDropPoints!.Value).DefaultIfEmpty(double.NaN).Max() is var drop && double.IsNaN(drop)
                    ? throw new OnnxFactorizeException("max-accuracy-drop needs an output that looks like class scores (floating point [N, classes]) and labels for it.")
                    : drop;
            case BudgetMetric.Top1Agreement:
                var agreements = outputs.Where(o => o.Classification is not null).Select(o => o.Classification!.Top1Agreement).ToList();
                return agreements.Count == 0
                    ? throw new OnnxFactorizeException("min-top1-agreement needs an output that looks like class scores (floating point [N, classes]); use --max-error instead.")
                    : 1 - agreements.Min();
            default:
                return outputs.Max(o => o.NonFiniteOptimized > o.NonFiniteOriginal ? double.PositiveInfinity : o.RelL2Error);
        }
    }

    private string Explain(NodePlan plan, int index, int choice, double measured, Refinement refinement)
    {
        if (plan.Ladder.Count == 0)
        {
            return plan.Reason;
        }

        var before = refinement.Before[index];
        var rejected = refinement.Rejected.TryGetValue(index, out var tries)
            ? $"; measured refinement tried {string.Join(", ", tries.Select(t => $"rank {plan.Ladder[t.Rung].Rank} (whole model {Format(t.Measured)})"))}: over budget"
            : "";
        if (choice >= 0)
        {
            var p = plan.Ladder[choice];
            var from = p.Energy > 0 ? $"energy {Format(p.Energy)}" : p.Rank == plan.BreakEvenRank ? "break-even" : "cost fraction";
            var how = choice == before
                ? $"chosen by {_options.Target.ToString().ToLowerInvariant()} saved per budget spent"
                : before < 0
                    ? "left out by the estimate (single-node errors in quadrature), then taken by measured refinement"
                    : $"rank {plan.Ladder[before].Rank} by the estimate, lowered by measured refinement";
            return $"rank {p.Rank} ({from}): alone it costs {Format(p.Error)} of {_options.DescribeBudget()}; {how}, whole model verified at {Format(measured)}{rejected}";
        }

        var slower = MeasuresLatency && plan.Ladder.All(p => p.Speedup is { } s && s < 1.0);
        if (slower)
        {
            return "every measured rank is slower than the original node in ONNX Runtime; left as it is";
        }

        var cheapest = plan.Ladder.Where(Allowed).Select(p => p.Error).DefaultIfEmpty(double.PositiveInfinity).Min();
        return $"left as it is: its least damaging rung costs {Format(cheapest)} alone, which the budget ({_options.DescribeBudget()}) could not fit with the others{rejected}";
    }

    private IReadOnlyList<FactorizationDecision> Decisions(FactorizationResult final, IReadOnlyList<NodePlan> nodes)
    {
        var byName = nodes.ToDictionary(n => n.NodeName, StringComparer.Ordinal);
        var list = new List<FactorizationDecision>();
        foreach (var d in final.Decisions)
        {
            list.Add(byName.TryGetValue(d.NodeName, out var n) ? d with { Reason = $"budget: {n.Reason}. {d.Reason}" } : d);
        }

        foreach (var n in nodes.Where(n => n.ChosenRank == 0))
        {
            list.Add(new FactorizationDecision
            {
                NodeName = n.NodeName,
                OpType = n.OpType,
                Status = DecisionStatus.Skipped,
                Reason = $"budget: {n.Reason}",
                BreakEvenRank = n.BreakEvenRank,
                ParamsBefore = n.ParamsBefore,
                ParamsAfter = n.ParamsBefore,
                FlopsBefore = n.FlopsBefore,
                FlopsAfter = n.FlopsBefore,
            });
        }

        return list;
    }

    // Data-aware rungs depend on the calibration statistics: their counts and sums stand for them in the ladder cache key.
    private string StatisticsKey() => _options.Factorize.DataAware == DataAwareMode.None || _options.InputStatistics is not { } statistics ? "weight-space"
        : "whiten:" + string.Join(";", statistics.OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{p.Key}={p.Value.Count}:{string.Join(",", p.Value.Sum().Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}"));

    private string MachineFingerprint() =>
        $"{Environment.MachineName}|{Environment.ProcessorCount}|{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}|{typeof(InferenceSession).Assembly.GetName().Version}|" +
        $"{_options.Latency.IntraOpThreads}|{_options.Latency.ExecutionProvider}|{_options.Latency.Runs}|{_options.Latency.WarmupRuns}";

    private void Report(PlanPhase phase, int done, int total, string detail) => _progress?.Report(WithWork(new PlanProgress(phase, done, total, detail)));

    private static string Format(double value) => value.ToString("G4", CultureInfo.InvariantCulture);
}
