using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Calibration;
using OnnxFactorize.Validation;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Planning;

/// <content>How the planner evaluates: calibration samples and reference outputs streamed through stores whose memory does
/// not grow with the sample count, errors accumulated sample by sample, a node's rungs run on the model cut at the node
/// (<see cref="DownstreamProbe"/>), the ladder searched by bisection, and the time estimate shown before the search.</content>
public sealed partial class BudgetPlanner
{
    /// <summary>Tensor bytes each calibration store (samples, reference outputs, a node's cut activations) keeps in memory
    /// before it moves to a temporary file.</summary>
    internal const long CalibrationMemoryBytes = 16L << 20;

    private readonly CalibrationStore _samples = new(CalibrationMemoryBytes);
    private readonly CalibrationStore _reference = new(CalibrationMemoryBytes);
    private IReadOnlyList<TensorData> _firstSample = [];
    private byte[] _samplesHash = [];
    private double _referenceSeconds;
    private int _downstreamNodes;
    private readonly Stopwatch _pricing = new();
    private readonly Stopwatch _evaluation = new();
    private readonly Stopwatch _latency = new();
    private readonly Stopwatch _verification = new();

    /// <summary>Runs the original on each sample as it is read and stores both; hashes the samples (and labels) for the
    /// cache key and times the pass, the cost of one whole-model evaluation.</summary>
    private void StoreReference(InferenceSession original, IEnumerable<IReadOnlyList<TensorData>> samples)
    {
        var clock = Stopwatch.StartNew();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var bound in samples)
        {
            _ct.ThrowIfCancellationRequested();
            if (_samples.Count == 0)
            {
                // A warm-up run, not timed: the first run of a session pays for its allocations.
                _firstSample = bound;
                ModelValidator.Run(original, bound, _outputNames, _runOptions, _model.Name);
                clock.Restart();
            }

            foreach (var t in bound)
            {
                hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{t.Name}:{t.ElementType}:{string.Join(",", t.Shape)};"));
                hash.AppendData(CalibrationStore.AsBytes(t.Data));
            }

            _samples.Add(bound);
            _reference.Add(ModelValidator.Run(original, bound, _outputNames, _runOptions, _model.Name));
        }

        if (_samples.Count == 0)
        {
            throw new OnnxFactorizeException($"{_options.Inputs.Path ?? "calibration"}: no calibration samples; give --inputs with at least one sample or --calibration-samples 1 or more.");
        }

        if (_options.Inputs.LabelsPath is { } labels)
        {
            hash.AppendData(File.ReadAllBytes(labels));
        }

        _samplesHash = hash.GetHashAndReset();
        _referenceSeconds = clock.Elapsed.TotalSeconds;
    }

    // The budget metric of a session's outputs against the reference, over every calibration sample.
    private double MeasureError(InferenceSession session, Func<int, IReadOnlyList<TensorData>> extraInputs, int samples = int.MaxValue) =>
        Accumulate(null, (s, sample, _) => ModelValidator.Run(session, [.. sample, .. extraInputs(s)], _outputNames, _runOptions, _model.Name), samples);

    // How many calibration samples a rung evaluation reads (verifications read them all).
    private int SensitivityCount => _options.SensitivitySamples is > 0 and var n ? Math.Min(n, _samples.Count) : _samples.Count;

    // Streams the first <paramref name="limit"/> samples, their reference outputs and (when given) a store of per-sample
    // extras in lockstep; the metric is accumulated sample by sample, so nothing but one sample's tensors is held at a time.
    private double Accumulate(CalibrationStore? extras, Func<int, IReadOnlyList<TensorData>, IReadOnlyList<TensorData>, IReadOnlyList<TensorData>> run,
        int limit = int.MaxValue)
    {
        var accumulators = _outputNames.ToDictionary(n => n, n => new MetricsAccumulator(n), StringComparer.Ordinal);
        var offset = 0L;
        using var references = _reference.Read().GetEnumerator();
        using var extra = (extras?.Read() ?? []).GetEnumerator();
        var s = 0;
        foreach (var sample in _samples.Read().Take(limit))
        {
            _ct.ThrowIfCancellationRequested();
            references.MoveNext();
            var outputs = run(s, sample, extra.MoveNext() ? extra.Current : []);
            offset = ModelValidator.Accumulate(accumulators, references.Current, outputs, _labels, offset, _options.Inputs.LabelsPath);
            s++;
        }

        if (s == _samples.Count)
        {
            ModelValidator.CheckLabelsUsed(_labels, offset, _options.Inputs.LabelsPath);
        }

        return Metric([.. accumulators.Values.Select(a => a.ToMetrics())]);
    }

    // Evaluates one candidate's Ŵ: on the model cut at the node when that works (the cut activations computed once per
    // sample by the upstream part), else through the whole weight probe.
    private NodeEvaluator OpenEvaluator(int probeIndex)
    {
        var candidate = _probed[probeIndex];
        var cut = _options.SharedSessions && _options.DownstreamEvaluation ? DownstreamProbe.TryBuild(_model, candidate) : null;
        if (cut is null)
        {
            return new NodeEvaluator(w => ProbeError(new Dictionary<int, float[]> { [probeIndex] = w }, SensitivityCount), 1.0, null);
        }

        var frontier = new CalibrationStore(CalibrationMemoryBytes);
        InferenceSession? down = null;
        try
        {
            Dictionary<string, int> types;
            using (var up = ProbeModels.Open(cut.Upstream, _sessionOptions, $"{_model.Name} (upstream of '{candidate.Label}')"))
            {
                _sessions++;
                types = cut.Frontier.ToDictionary(n => n, n => (int)up.OutputMetadata[n].ElementDataType, StringComparer.Ordinal);
                foreach (var sample in _samples.Read().Take(SensitivityCount))
                {
                    _ct.ThrowIfCancellationRequested();
                    frontier.Add(ModelValidator.Run(up, sample, cut.Frontier, _runOptions, _model.Name));
                }
            }

            var downstream = cut.BuildDownstream(types);
            down = ProbeModels.Open(downstream.Model, _sessionOptions, $"{_model.Name} (downstream of '{candidate.Label}')");
            _sessions++;
            _downstreamNodes++;
            var session = down;
            var weightType = Passes.PassContext.ConstantTensor(candidate.Weight)!.DataType;
            double Evaluate(float[] w)
            {
                var weight = WeightProbe.Feed(downstream.WeightInput, weightType, [.. candidate.WeightShape], w);
                return Accumulate(frontier, (_, sample, values) => ModelValidator.Run(session,
                    [.. sample, .. values.Select(v => v.WithName(downstream.CutInputs[v.Name])), weight], _outputNames, _runOptions, _model.Name), SensitivityCount);
            }

            var owned = new CompositeDisposable(down, frontier);
            down = null;
            return new NodeEvaluator(Evaluate, cut.NodeFraction, owned);
        }
        catch
        {
            down?.Dispose();
            frontier.Dispose();
            throw;
        }
    }

    // Measures a ladder sorted cheapest first. With bisection, rung errors are taken to fall as the rank grows: the most
    // accurate rung first (if it alone is over budget, so is every rung), then the cheapest rung within budget by
    // bisection, then every rung above it; rungs below it are not measured (alone they spend more than the budget, so
    // no allocation can keep them). Without bisection, every rung. Unmeasured rungs are NaN.
    private double[] MeasureLadder(int count, Func<int, double> evaluate)
    {
        var errors = Enumerable.Repeat(double.NaN, count).ToArray();
        double At(int i)
        {
            if (double.IsNaN(errors[i]))
            {
                errors[i] = evaluate(i);
                _errorEvaluations++;
            }

            return errors[i];
        }

        if (!_options.BisectLadder)
        {
            for (var i = 0; i < count; i++)
            {
                At(i);
            }

            return errors;
        }

        var allowance = _options.Allowance;
        if (!(At(count - 1) <= allowance))
        {
            return errors;
        }

        var (lo, hi) = (0, count - 1);
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (At(mid) <= allowance)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        for (var i = hi + 1; i < count; i++)
        {
            At(i);
        }

        return errors;
    }

    // Times the rungs at <paramref name="indices"/> (cheapest first) and returns which rungs are slower than the original.
    // Under the guard alone (target not latency, bisection on) a factorized node is taken to get slower as its rank
    // grows: the most expensive rung first (if it is faster, so is every rung), then the cheapest (if it is slower, so is
    // every rung), then bisection for the last faster rung; untimed rungs get the side of the boundary they lie on.
    private bool[] MeasureLatencies(IReadOnlyList<int> indices, int count, Func<int, NodeTiming> time)
    {
        var slower = new bool[count];
        bool Slower(int k) => slower[indices[k]] = time(indices[k]).Speedup < 1.0;
        if (indices.Count == 0)
        {
            return slower;
        }

        if (_options.Target == PlanTarget.Latency || !_options.BisectLadder)
        {
            for (var k = 0; k < indices.Count; k++)
            {
                Slower(k);
            }

            return slower;
        }

        var last = indices.Count - 1;
        if (!Slower(last))
        {
            return slower;
        }

        // Invariant: rung lo is faster, rung hi is slower.
        var (lo, hi) = (0, last);
        if (last == 0 || Slower(0))
        {
            lo = -1;
            hi = 0;
        }

        while (hi - lo > 1)
        {
            var mid = (lo + hi) / 2;
            if (Slower(mid))
            {
                hi = mid;
            }
            else
            {
                lo = mid;
            }
        }

        for (var k = hi; k < indices.Count; k++)
        {
            slower[indices[k]] = true;
        }

        return slower;
    }

    // The time estimate shown before the sensitivity search: planned evaluations (per node at most its ladder, with
    // bisection about log2 of it plus the rungs above the budget threshold) times the measured cost of one whole-model pass
    // over the calibration samples, plus the verifications.
    private string Estimate(int nodes)
    {
        var rungs = _options.Energies.Count + 1 + _options.CostFractions.Count;
        var least = _options.BisectLadder ? (int)Math.Ceiling(Math.Log2(Math.Max(rungs, 2))) + 1 : rungs;
        var verifications = _options.MaxVerifications + _options.RefinementVerifications;
        var each = _referenceSeconds;
        var rung = each * SensitivityCount / _samples.Count;
        var low = (nodes * least * rung) + each;
        var high = (nodes * rungs * rung) + (verifications * each);
        var subset = SensitivityCount < _samples.Count ? $", a rung {Seconds(rung)} (its first {SensitivityCount})" : "";
        return $"estimate: {nodes} node(s) × ≤ {rungs} rungs = {nodes * least}–{nodes * rungs} evaluations + ≤ {verifications} verifications, "
            + $"{Seconds(each)} per evaluation (the reference pass over {_samples.Count} sample(s)){subset} → {Seconds(low)}–{Seconds(high)}"
            + (_options.DownstreamEvaluation ? " (less where a node's rungs run only the model after it)" : "")
            + (MeasuresLatency ? ", plus latency timing" : "");
    }

    // Runs a stopwatch until disposed (nested phases, e.g. a verification inside refinement, count once per watch).
    private static StopwatchScope Time(Stopwatch watch) => new(watch);

    private static string Seconds(double s) => s < 90 ? $"{s:0.##} s" : $"{s / 60:0.#} min";

    // One node's evaluator: Ŵ → budget metric; owns its downstream session and cut activations.
    private sealed class NodeEvaluator(Func<float[], double> evaluate, double cost, IDisposable? resources) : IDisposable
    {
        public double Evaluate(float[] weight) => evaluate(weight);

        public double Cost => cost;

        public void Dispose() => resources?.Dispose();
    }

    private readonly struct StopwatchScope : IDisposable
    {
        private readonly Stopwatch? _watch;

        public StopwatchScope(Stopwatch watch)
        {
            _watch = watch.IsRunning ? null : watch;
            _watch?.Start();
        }

        public void Dispose() => _watch?.Stop();
    }

    private sealed class CompositeDisposable(params IDisposable[] items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var item in items)
            {
                item.Dispose();
            }
        }
    }
}
