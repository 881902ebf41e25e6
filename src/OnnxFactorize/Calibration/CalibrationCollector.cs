using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Validation;
using TensorData = OnnxFactorize.Validation.TensorData;
using OnnxFactorize.Runtime;

namespace OnnxFactorize.Calibration;

/// <summary>Collects activation statistics in ONNX Runtime: the requested values are exposed as extra graph outputs
/// (through <see cref="ModelGraph"/>), the calibration samples stream through one session batch by batch, and each batch
/// is folded into per-value accumulators, so memory does not grow with the number of samples.</summary>
internal static class CalibrationCollector
{
    /// <summary>Statistics of every requested value over all <paramref name="samples"/> (enumerated once, lazily). With a
    /// cache directory and <paramref name="inputsHash"/> (e.g. <see cref="CalibrationInputs.Hash"/>), cached values are
    /// loaded and only the others are collected.</summary>
    public static IReadOnlyDictionary<string, ActivationStatistics> Collect(OnnxModel model, IReadOnlyList<ActivationRequest> requests, IEnumerable<Sample> samples,
        CalibrationOptions? options = null, string? inputsHash = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(samples);
        options ??= new CalibrationOptions();
        var duplicate = requests.GroupBy(r => r.Value, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new OnnxFactorizeException($"{model.Name}: value '{duplicate.Key}' is requested more than once; request each activation once (a Conv request also gives its channel statistics).");
        }

        var cache = options.CacheDirectory is not null && inputsHash is not null ? new CalibrationCache(options.CacheDirectory) : null;
        var modelHash = cache is null ? "" : Convert.ToHexStringLower(SHA256.HashData(model.ToBytes()));
        var result = new Dictionary<string, ActivationStatistics>(StringComparer.Ordinal);
        var missing = new List<ActivationRequest>();
        foreach (var request in requests)
        {
            if (cache?.TryLoad(CalibrationCache.Key(modelHash, request, inputsHash!), request) is { } hit)
            {
                result[request.Value] = hit;
            }
            else
            {
                missing.Add(request);
            }
        }

        if (missing.Count > 0)
        {
            foreach (var statistics in Run(model, missing, samples, options, cancellationToken))
            {
                result[statistics.Request.Value] = statistics;
                cache?.Store(CalibrationCache.Key(modelHash, statistics.Request, inputsHash!), statistics);
            }
        }

        return result;
    }

    private static List<ActivationStatistics> Run(OnnxModel model, IReadOnlyList<ActivationRequest> requests, IEnumerable<Sample> samples, CalibrationOptions options,
        CancellationToken cancellationToken)
    {
        var graph = ModelGraph.Import(model);
        var fromInputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var request in requests)
        {
            var value = graph.Main.Find(request.Value)
                ?? throw new OnnxFactorizeException($"{model.Name}: no value '{request.Value}' in the main graph; give the name of the tensor that feeds the weight.");
            if (value.IsConstant)
            {
                throw new OnnxFactorizeException($"{model.Name}: '{request.Value}' is a constant initializer, not an activation; give the node's data input.");
            }

            if (value.IsGraphInput)
            {
                fromInputs.Add(value.Name);
            }
            else
            {
                graph.Main.AddOutput(value);
            }
        }

        var probe = graph.Export().ToBytes();
        using var sessionOptions = ModelValidator.CreateSessionOptions(new LatencyOptions { IntraOpThreads = options.IntraOpThreads });
        using var session = Open(probe, sessionOptions, model.Name);
        using var runOptions = new RunOptions();
        var inputs = ModelInput.FromSession(session);
        var outputNames = requests.Select(r => r.Value).Where(n => !fromInputs.Contains(n)).ToList();
        var sinks = requests.Select(r => new Sink(r, model.Name)).ToList();
        var samplesSeen = 0;
        foreach (var sample in samples)
        {
            cancellationToken.ThrowIfCancellationRequested();
            samplesSeen++;
            var bound = SampleLoader.Bind(sample, inputs);
            foreach (var batch in Batches(bound, inputs, options.BatchSize))
            {
                var outputs = outputNames.Count == 0 ? [] : ModelValidator.Run(session, batch, outputNames, runOptions, model.Name);
                foreach (var sink in sinks)
                {
                    var tensor = fromInputs.Contains(sink.Request.Value)
                        ? batch.First(t => t.Name == sink.Request.Value)
                        : outputs[outputNames.IndexOf(sink.Request.Value)];
                    sink.Add(tensor);
                }
            }
        }

        if (samplesSeen == 0)
        {
            throw new OnnxFactorizeException($"{model.Name}: no calibration samples were given; data-aware factorization needs at least one.");
        }

        return [.. sinks.Select(s => s.Result())];
    }

    private static InferenceSession Open(byte[] model, SessionOptions options, string name) =>
        OrtSessions.Open(model, options, name, "with the calibration outputs added");

    // Splits every input along axis 0 into chunks of batchSize rows when that axis is dynamic and all inputs agree on it.
    internal static IEnumerable<IReadOnlyList<TensorData>> Batches(IReadOnlyList<TensorData> bound, IReadOnlyList<ModelInput> inputs, int batchSize)
    {
        var rows = bound.Count > 0 && bound[0].Shape.Count > 0 ? bound[0].Shape[0] : 0;
        var splittable = batchSize > 0 && rows > batchSize
            && bound.Select((t, i) => t.Shape.Count > 0 && t.Shape[0] == rows && inputs[i].Dims.Count > 0 && inputs[i].Dims[0] <= 0).All(ok => ok);
        if (!splittable)
        {
            yield return bound;
            yield break;
        }

        for (long start = 0; start < rows; start += batchSize)
        {
            var count = Math.Min(batchSize, rows - start);
            yield return [.. bound.Select(t => Slice(t, start, count))];
        }
    }

    private static TensorData Slice(TensorData t, long start, long count)
    {
        var perRow = TensorData.ElementCountOf(t.Shape) / t.Shape[0];
        var data = Array.CreateInstance(t.Data.GetType().GetElementType()!, count * perRow);
        Array.Copy(t.Data, start * perRow, data, 0, count * perRow);
        var shape = t.Shape.ToArray();
        shape[0] = count;
        return new TensorData(t.Name, t.ElementType, shape, data);
    }

    // Folds batches of one activation into its accumulators.
    private sealed class Sink(ActivationRequest request, string modelName)
    {
        private GramAccumulator? _inputs;
        private GramAccumulator? _channels;

        public ActivationRequest Request { get; } = request;

        public void Add(TensorData tensor)
        {
            if (!tensor.IsFloatingPoint)
            {
                throw new OnnxFactorizeException($"{modelName}: value '{Request.Value}' is {TensorData.ElementTypeName(tensor.ElementType)}; only floating-point activations feed factorizable weights.");
            }

            var values = tensor.Data as float[] ?? Array.ConvertAll(tensor.ToDoubles(), v => (float)v);
            if (Request.Conv is null)
            {
                AddLastAxis(tensor.Shape, values);
            }
            else
            {
                AddConv(tensor.Shape, values, Request.Conv);
            }
        }

        public ActivationStatistics Result() =>
            new(Request, _inputs ?? throw new OnnxFactorizeException($"{modelName}: value '{Request.Value}' produced no data."), _channels);

        private void AddLastAxis(IReadOnlyList<long> shape, float[] values)
        {
            if (shape.Count == 0 || shape[^1] < 1)
            {
                throw new OnnxFactorizeException($"{modelName}: value '{Request.Value}' has shape {TensorData.FormatShape(shape)}; a MatMul/Gemm input needs a non-empty last axis.");
            }

            Accumulator(ref _inputs, (int)shape[^1]).AddRows(values);
        }

        private void AddConv(IReadOnlyList<long> shape, float[] values, ConvPatchGeometry geometry)
        {
            if (shape.Count != 4)
            {
                throw new OnnxFactorizeException($"{modelName}: value '{Request.Value}' has shape {TensorData.FormatShape(shape)}; Conv patch statistics need a 4-D [N, C, H, W] input.");
            }

            var (n, c, h, w) = ((int)shape[0], (int)shape[1], (int)shape[2], (int)shape[3]);
            var (oh, ow) = geometry.OutputSize(h, w);
            if (oh < 1 || ow < 1)
            {
                throw new OnnxFactorizeException($"{modelName}: value '{Request.Value}' is {h}×{w}, too small for a {geometry} convolution.");
            }

            var patch = geometry.PatchLength(c);
            var inputs = Accumulator(ref _inputs, patch);
            var channels = Accumulator(ref _channels, c);
            var patches = new float[oh * ow * patch];
            var pixels = new float[h * w * c];
            for (var image = 0; image < n; image++)
            {
                var x = values.AsSpan(image * c * h * w, c * h * w);

                // Per-position channel vectors: the image transposed from C×(H·W) to (H·W)×C.
                MatrixOps.Transpose(x, c, h * w, pixels);
                channels.AddRows(pixels);

                geometry.Patches(x, c, h, w, patches);
                inputs.AddRows(patches);
            }
        }

        private GramAccumulator Accumulator(ref GramAccumulator? slot, int dimension)
        {
            slot ??= new GramAccumulator(dimension);
            if (slot.Dimension != dimension)
            {
                throw new OnnxFactorizeException($"{modelName}: value '{Request.Value}' changed its {(Request.Conv is null ? "last axis" : "channel count")} between batches ({slot.Dimension} then {dimension}); statistics need a fixed width.");
            }

            return slot;
        }
    }
}
