using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Runtime;
using OnnxFactorize.Validation;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Calibration;

/// <summary>One activation read by a node in two models: as <see cref="Compressed"/> in the model factorized so far, and as
/// the value named <see cref="Original"/> in the original model (read the same way).</summary>
internal sealed record PairedRequest(ActivationRequest Compressed, string Original)
{
    /// <summary>Stable text of the pair, part of the cache key.</summary>
    public override string ToString() => $"{Compressed} ~ {Original}";
}

/// <summary>Statistics of one <see cref="PairedRequest"/>: x̃ (compressed model), x (original model) and Σ x̃ xᵀ, over the same rows.</summary>
internal sealed record PairedStatistics(PairedRequest Request, GramAccumulator Compressed, GramAccumulator Original, double[] Cross);

/// <summary>Collects, in one pass over the calibration samples, the paired statistics sequential reconstruction needs: every
/// batch runs through the compressed and the original model (two ONNX Runtime sessions, the requested values exposed as
/// outputs), and the rows each node's weight reads in both are folded into Σ x̃x̃ᵀ, Σ xxᵀ and Σ x̃xᵀ. Memory is one batch's
/// activations, whatever the number of samples. Cached like <see cref="CalibrationCollector"/>, keyed by both models' bytes.</summary>
internal static class PairedCollector
{
    /// <summary>The statistics of every pair; with a cache directory and <paramref name="inputsHash"/>, a run over the same
    /// two models and inputs loads them instead of running (then <paramref name="ranModels"/> is false).</summary>
    public static IReadOnlyList<PairedStatistics> Collect(OnnxModel compressed, OnnxModel original, IReadOnlyList<PairedRequest> pairs, IEnumerable<Sample> samples,
        CalibrationOptions options, string? inputsHash, out bool ranModels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var cache = options.CacheDirectory is not null && inputsHash is not null ? new CalibrationCache(options.CacheDirectory) : null;
        var keys = new string[pairs.Count];
        if (cache is not null)
        {
            var hashes = Convert.ToHexStringLower(SHA256.HashData(compressed.ToBytes())) + "\n" + Convert.ToHexStringLower(SHA256.HashData(original.ToBytes()));
            var loaded = new List<PairedStatistics>();
            for (var i = 0; i < pairs.Count; i++)
            {
                keys[i] = CalibrationCache.Key(hashes, pairs[i].ToString(), inputsHash!);
                if (cache.TryLoadPaired(keys[i], pairs[i]) is { } hit)
                {
                    loaded.Add(hit);
                }
            }

            if (loaded.Count == pairs.Count)
            {
                ranModels = false;
                return loaded;
            }
        }

        var result = Run(compressed, original, pairs, samples, options, cancellationToken);
        for (var i = 0; i < result.Count && cache is not null; i++)
        {
            cache.StorePaired(keys[i], result[i]);
        }

        ranModels = true;
        return result;
    }

    private static List<PairedStatistics> Run(OnnxModel compressed, OnnxModel original, IReadOnlyList<PairedRequest> pairs, IEnumerable<Sample> samples,
        CalibrationOptions options, CancellationToken cancellationToken)
    {
        using var sessionOptions = ModelValidator.CreateSessionOptions(new LatencyOptions { IntraOpThreads = options.IntraOpThreads });
        using var left = Probe.Open(compressed, pairs.Select(p => p.Compressed.Value), sessionOptions);
        using var right = Probe.Open(original, pairs.Select(p => p.Original), sessionOptions);
        using var runOptions = new RunOptions();
        var inputs = ModelInput.FromSession(left.Session);
        var sinks = pairs.Select(p => new Sink(p, compressed.Name)).ToList();
        var seen = 0;
        foreach (var sample in samples)
        {
            cancellationToken.ThrowIfCancellationRequested();
            seen++;
            foreach (var batch in CalibrationCollector.Batches(SampleLoader.Bind(sample, inputs), inputs, options.BatchSize))
            {
                var x = left.Run(batch, runOptions);
                var y = right.Run(batch, runOptions);
                foreach (var sink in sinks)
                {
                    sink.Add(x[sink.Request.Compressed.Value], y[sink.Request.Original]);
                }
            }
        }

        if (seen == 0)
        {
            throw new OnnxFactorizeException($"{compressed.Name}: no calibration samples were given; data-aware factorization needs at least one.");
        }

        return [.. sinks.Select(s => s.Result())];
    }

    // A session of a model with the requested values added as outputs (graph inputs are read from the fed tensors).
    private sealed class Probe : IDisposable
    {
        private readonly HashSet<string> _fromInputs = new(StringComparer.Ordinal);
        private readonly List<string> _outputs = [];
        private readonly string _name;

        private Probe(OnnxModel model, IEnumerable<string> values, SessionOptions options)
        {
            _name = model.Name;
            var graph = ModelGraph.Import(model);
            foreach (var name in values.Distinct(StringComparer.Ordinal))
            {
                var value = graph.Main.Find(name) ?? throw new OnnxFactorizeException($"{model.Name}: no value '{name}' in the main graph to collect statistics of.");
                if (value.IsGraphInput)
                {
                    _fromInputs.Add(name);
                }
                else
                {
                    graph.Main.AddOutput(value);
                    _outputs.Add(name);
                }
            }

            Session = OrtSessions.Open(graph.Export().ToBytes(), options, model.Name, "with the calibration outputs added");
        }

        public InferenceSession Session { get; }

        public static Probe Open(OnnxModel model, IEnumerable<string> values, SessionOptions options) => new(model, values, options);

        public Dictionary<string, TensorData> Run(IReadOnlyList<TensorData> batch, RunOptions runOptions)
        {
            var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
            var outputs = _outputs.Count == 0 ? [] : ModelValidator.Run(Session, batch, _outputs, runOptions, _name);
            for (var i = 0; i < _outputs.Count; i++)
            {
                result[_outputs[i]] = outputs[i];
            }

            foreach (var name in _fromInputs)
            {
                result[name] = batch.First(t => t.Name == name);
            }

            return result;
        }

        public void Dispose() => Session.Dispose();
    }

    private sealed class Sink(PairedRequest request, string modelName)
    {
        private GramAccumulator? _compressed;
        private GramAccumulator? _original;
        private CrossGramAccumulator? _cross;

        public PairedRequest Request { get; } = request;

        public void Add(TensorData compressed, TensorData original)
        {
            var x = Rows(compressed, Request.Compressed.Value);
            var y = Rows(original, Request.Original);
            if (x.Length != y.Length)
            {
                throw new OnnxFactorizeException($"{modelName}: '{Request.Compressed.Value}' ({TensorData.FormatShape(compressed.Shape)}) and the original '{Request.Original}' ({TensorData.FormatShape(original.Shape)}) differ in size; the compressed model must keep the node's input shape.");
            }

            var d = Width(compressed);
            _compressed ??= new GramAccumulator(d);
            _original ??= new GramAccumulator(d);
            _cross ??= new CrossGramAccumulator(d, d);
            _compressed.AddRows(x);
            _original.AddRows(y);
            _cross.AddRows(x, y);
        }

        public PairedStatistics Result() => _compressed is null
            ? throw new OnnxFactorizeException($"{modelName}: value '{Request.Compressed.Value}' produced no data.")
            : new PairedStatistics(Request, _compressed, _original!, _cross!.ZY());

        private int Width(TensorData t) => Request.Compressed.Conv is { } g ? g.PatchLength((int)t.Shape[1]) : (int)t.Shape[^1];

        // The rows the weight reads: the last axis (MatMul/Gemm) or the im2col patches of every image (Conv).
        private float[] Rows(TensorData tensor, string name)
        {
            if (!tensor.IsFloatingPoint)
            {
                throw new OnnxFactorizeException($"{modelName}: value '{name}' is {TensorData.ElementTypeName(tensor.ElementType)}; only floating-point activations feed factorizable weights.");
            }

            var values = tensor.Data as float[] ?? Array.ConvertAll(tensor.ToDoubles(), v => (float)v);
            if (Request.Compressed.Conv is not { } geometry)
            {
                return tensor.Shape.Count > 0 && tensor.Shape[^1] > 0 ? values
                    : throw new OnnxFactorizeException($"{modelName}: value '{name}' has shape {TensorData.FormatShape(tensor.Shape)}; a MatMul/Gemm input needs a non-empty last axis.");
            }

            if (tensor.Shape.Count != 4)
            {
                throw new OnnxFactorizeException($"{modelName}: value '{name}' has shape {TensorData.FormatShape(tensor.Shape)}; Conv patch statistics need a 4-D [N, C, H, W] input.");
            }

            var (n, c, h, w) = ((int)tensor.Shape[0], (int)tensor.Shape[1], (int)tensor.Shape[2], (int)tensor.Shape[3]);
            var (oh, ow) = geometry.OutputSize(h, w);
            var per = oh * ow * geometry.PatchLength(c);
            var rows = new float[n * per];
            for (var image = 0; image < n; image++)
            {
                geometry.Patches(values.AsSpan(image * c * h * w, c * h * w), c, h, w, rows.AsSpan(image * per, per));
            }

            return rows;
        }
    }
}
