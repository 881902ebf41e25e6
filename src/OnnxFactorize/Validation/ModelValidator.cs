using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Runtime;

namespace OnnxFactorize.Validation;

/// <summary>Runs an original and an optimized model side by side in ONNX Runtime (or one model against stored golden outputs) and measures accuracy, latency, size and FLOPs.</summary>
public static class ModelValidator
{
    /// <summary>Compares <paramref name="optimizedPath"/> against <paramref name="originalPath"/> on the configured inputs and checks the thresholds.</summary>
    public static ValidationResult Compare(string originalPath, string optimizedPath, ValidationOptions options,
        IProgress<ValidationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(originalPath);
        ArgumentNullException.ThrowIfNull(optimizedPath);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var thresholds = options.EffectiveThresholds;
        var latencyOptions = options.Latency ?? (thresholds.MinSpeedup is not null ? new LatencyOptions() : null);

        // One SessionOptions instance for both sessions, so the comparison is like for like.
        using var sessionOptions = CreateSessionOptions(latencyOptions ?? new LatencyOptions());
        if (latencyOptions is null)
        {
            // No timing, so no need for ONNX Runtime's pre-packed copy of every MatMul/Gemm weight next to the original.
            sessionOptions.AddSessionConfigEntry("session.disable_prepacking", "1");
            return CompareInTurn(originalPath, optimizedPath, options, sessionOptions, progress, cancellationToken);
        }

        using var original = OpenSession(originalPath, sessionOptions);
        using var optimized = OpenSession(optimizedPath, sessionOptions);
        var inputs = ModelInput.FromSession(original);
        CheckSameInputs(inputs, ModelInput.FromSession(optimized), optimizedPath);
        CheckOutputs(original.OutputNames, optimized.OutputNames, optimizedPath);
        var samples = LoadSamples(inputs, options.Inputs);
        var labels = options.Inputs.LabelsPath is { } lp ? SampleLoader.ReadLabels(lp) : null;
        var accumulators = original.OutputNames.ToDictionary(n => n, n => new MetricsAccumulator(n, options.Task), StringComparer.Ordinal);
        var labelOffset = 0L;
        using var runOptions = new RunOptions();

        // Ctrl+C also stops a run already inside ONNX Runtime.
        using var terminate = cancellationToken.Register(() => runOptions.Terminate = true);
        IReadOnlyList<TensorData>? firstInputs = null;
        for (var i = 0; i < samples.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new ValidationProgress("accuracy", i, samples.Count));
            var sample = samples[i];
            var bound = SampleLoader.Bind(sample, inputs);
            firstInputs ??= bound;
            var a = Run(original, bound, original.OutputNames, runOptions, originalPath);
            var b = Run(optimized, bound, original.OutputNames, runOptions, optimizedPath);
            labelOffset = Accumulate(accumulators, a, b, labels, labelOffset, options.Inputs.LabelsPath, options.Task);
        }

        CheckLabelsUsed(labels, labelOffset, options.Inputs.LabelsPath);
        progress?.Report(new ValidationProgress("accuracy", samples.Count, samples.Count));
        var latency = latencyOptions is null ? null : MeasureLatency(original, optimized, firstInputs!, latencyOptions, runOptions, progress, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        var outputs = accumulators.Values.Select(acc => acc.ToMetrics()).ToList();
        var dims = BoundDims(inputs, firstInputs!, options.Inputs.Dims);
        return new ValidationResult
        {
            Original = Summarize(originalPath, dims),
            Optimized = Summarize(optimizedPath, dims),
            SampleCount = samples.Count,
            InputsDescription = options.Inputs.Describe(),
            Outputs = outputs,
            Latency = latency,
            Thresholds = thresholds,
            Failures = thresholds.Evaluate(outputs, latency),
        };
    }

    // Without a latency measurement the two models need not be loaded together: the original runs every sample first and
    // is released, then the optimized model runs; at most one model's weights are in ONNX Runtime at a time.
    private static ValidationResult CompareInTurn(string originalPath, string optimizedPath, ValidationOptions options, SessionOptions sessionOptions,
        IProgress<ValidationProgress>? progress, CancellationToken cancellationToken)
    {
        var thresholds = options.EffectiveThresholds;
        using var runOptions = new RunOptions();
        using var terminate = cancellationToken.Register(() => runOptions.Terminate = true);
        IReadOnlyList<ModelInput> inputs;
        IReadOnlyList<string> outputNames;
        var bound = new List<IReadOnlyList<TensorData>>();
        var reference = new List<IReadOnlyList<TensorData>>();
        int sampleCount;
        using (var original = OpenSession(originalPath, sessionOptions))
        {
            inputs = ModelInput.FromSession(original);
            outputNames = [.. original.OutputNames];
            var samples = LoadSamples(inputs, options.Inputs);
            sampleCount = samples.Count;
            for (var i = 0; i < samples.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(new ValidationProgress("accuracy", i, 2 * samples.Count));
                bound.Add(SampleLoader.Bind(samples[i], inputs));
                reference.Add(Run(original, bound[i], outputNames, runOptions, originalPath));
            }
        }

        var labels = options.Inputs.LabelsPath is { } lp ? SampleLoader.ReadLabels(lp) : null;
        var accumulators = outputNames.ToDictionary(n => n, n => new MetricsAccumulator(n, options.Task), StringComparer.Ordinal);
        var labelOffset = 0L;
        using (var optimized = OpenSession(optimizedPath, sessionOptions))
        {
            CheckSameInputs(inputs, ModelInput.FromSession(optimized), optimizedPath);
            CheckOutputs(outputNames, optimized.OutputNames, optimizedPath);
            for (var i = 0; i < sampleCount; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(new ValidationProgress("accuracy", sampleCount + i, 2 * sampleCount));
                var b = Run(optimized, bound[i], outputNames, runOptions, optimizedPath);
                labelOffset = Accumulate(accumulators, reference[i], b, labels, labelOffset, options.Inputs.LabelsPath, options.Task);
            }
        }

        CheckLabelsUsed(labels, labelOffset, options.Inputs.LabelsPath);
        progress?.Report(new ValidationProgress("accuracy", 2 * sampleCount, 2 * sampleCount));
        cancellationToken.ThrowIfCancellationRequested();
        var outputs = accumulators.Values.Select(acc => acc.ToMetrics()).ToList();
        var dims = BoundDims(inputs, bound[0], options.Inputs.Dims);
        return new ValidationResult
        {
            Original = Summarize(originalPath, dims),
            Optimized = Summarize(optimizedPath, dims),
            SampleCount = sampleCount,
            InputsDescription = options.Inputs.Describe(),
            Outputs = outputs,
            Latency = null,
            Thresholds = thresholds,
            Failures = thresholds.Evaluate(outputs, null),
        };
    }

    private static void CheckOutputs(IReadOnlyList<string> original, IReadOnlyList<string> optimized, string optimizedPath)
    {
        foreach (var name in original.Where(n => !optimized.Contains(n)))
        {
            throw new OnnxFactorizeException($"{optimizedPath}: output '{name}' of the original model is missing; outputs must keep their names.");
        }
    }

    /// <summary>Checks, before any long work, that the model's inputs can be bound from <paramref name="options"/> (dims,
    /// input files, labels); throws the same one-line errors <see cref="Compare"/> would.</summary>
    public static void CheckInputs(string modelPath, ValidationOptions options)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var sessionOptions = CreateSessionOptions(new LatencyOptions());
        using var session = OpenSession(modelPath, sessionOptions);
        var inputs = ModelInput.FromSession(session);
        foreach (var sample in LoadSamples(inputs, options.Inputs))
        {
            SampleLoader.Bind(sample, inputs);
        }

        if (options.Inputs.LabelsPath is { } labels)
        {
            SampleLoader.ReadLabels(labels);
        }
    }

    /// <summary>Runs <paramref name="modelPath"/> on the inputs stored in <paramref name="goldenPath"/> (test_data_set_* folders or one folder with input_K/output_K files) and compares against the stored outputs.</summary>
    public static ValidationResult CompareToGolden(string modelPath, string goldenPath, ValidationOptions options)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentNullException.ThrowIfNull(goldenPath);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Thresholds.MinSpeedup is not null)
        {
            throw new OnnxFactorizeException("Threshold minSpeedup cannot be checked against golden outputs; compare two models instead.");
        }

        var thresholds = options.EffectiveThresholds;
        using var sessionOptions = CreateSessionOptions(options.Latency ?? new LatencyOptions());
        using var session = OpenSession(modelPath, sessionOptions);
        var inputs = ModelInput.FromSession(session);
        var samples = SampleLoader.Load(goldenPath);
        var labels = options.Inputs.LabelsPath is { } lp ? SampleLoader.ReadLabels(lp) : null;
        var accumulators = new Dictionary<string, MetricsAccumulator>(StringComparer.Ordinal);
        var labelOffset = 0L;
        using var runOptions = new RunOptions();
        IReadOnlyList<TensorData>? firstInputs = null;
        foreach (var sample in samples)
        {
            if (sample.ExpectedOutputs.Count == 0)
            {
                throw new OnnxFactorizeException($"{sample.Source}: no golden outputs (output_K.pb or output_K.npy) found.");
            }

            var bound = SampleLoader.Bind(sample, inputs);
            firstInputs ??= bound;
            var golden = BindOutputs(sample, session.OutputNames);
            var actual = Run(session, bound, [.. golden.Select(g => g.Name)], runOptions, modelPath);
            foreach (var g in golden)
            {
                accumulators.TryAdd(g.Name, new MetricsAccumulator(g.Name, options.Task));
            }

            labelOffset = Accumulate(accumulators, golden, actual, labels, labelOffset, options.Inputs.LabelsPath, options.Task);
        }

        CheckLabelsUsed(labels, labelOffset, options.Inputs.LabelsPath);
        var outputs = accumulators.Values.Select(acc => acc.ToMetrics()).ToList();
        var dims = BoundDims(inputs, firstInputs!, options.Inputs.Dims);
        LatencyResult? latency = null;
        return new ValidationResult
        {
            Original = new ModelSummary { Path = goldenPath, FileBytes = 0, Parameters = 0, Flops = 0 },
            Optimized = Summarize(modelPath, dims),
            SampleCount = samples.Count,
            InputsDescription = $"golden data from {goldenPath}",
            Outputs = outputs,
            Latency = latency,
            Thresholds = thresholds,
            Failures = thresholds.Evaluate(outputs, latency),
        };
    }

    /// <summary>Session options used for every validation session: intra-op threads and execution provider from <paramref name="latency"/>.</summary>
    public static SessionOptions CreateSessionOptions(LatencyOptions latency)
    {
        ArgumentNullException.ThrowIfNull(latency);
        var options = new SessionOptions { IntraOpNumThreads = latency.IntraOpThreads, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        try
        {
            if (latency.ExecutionProvider == "cuda")
            {
                options.AppendExecutionProvider_CUDA();
            }
        }
        catch (OnnxRuntimeException e)
        {
            options.Dispose();
            throw new OnnxFactorizeException($"Execution provider 'cuda' is not available ({OrtSessions.FirstLine(e.Message)}); use cpu.", e);
        }

        return options;
    }

    /// <summary>Runs a session on bound inputs and returns the named outputs.</summary>
    internal static IReadOnlyList<TensorData> Run(InferenceSession session, IReadOnlyList<TensorData> inputs, IReadOnlyList<string> outputNames, RunOptions runOptions, string modelPath)
    {
        var values = inputs.Select(t => t.ToOrtValue()).ToList();
        try
        {
            using var results = session.Run(runOptions, [.. inputs.Select(t => t.Name)], values, outputNames);
            return [.. results.Select((v, i) => TensorData.FromOrtValue(outputNames[i], v))];
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxFactorizeException($"{modelPath}: ONNX Runtime failed to run the model ({OrtSessions.FirstLine(e.Message)}).", e);
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    private static InferenceSession OpenSession(string path, SessionOptions options) => OrtSessions.Open(path, options);

    private static void CheckSameInputs(IReadOnlyList<ModelInput> original, IReadOnlyList<ModelInput> optimized, string optimizedPath)
    {
        foreach (var input in original)
        {
            var other = optimized.FirstOrDefault(o => o.Name == input.Name)
                ?? throw new OnnxFactorizeException($"{optimizedPath}: input '{input.Name}' ({input.Describe()}) of the original model is missing.");
            if (other.ElementType != input.ElementType || other.Dims.Count != input.Dims.Count)
            {
                throw new OnnxFactorizeException($"{optimizedPath}: input '{input.Name}' is {other.Describe()} but the original declares {input.Describe()}.");
            }
        }
    }

    private static IReadOnlyList<Sample> LoadSamples(IReadOnlyList<ModelInput> inputs, InputOptions options)
        => options.Path is { } path ? SampleLoader.Load(path) : SampleLoader.Generate(inputs, options, options.RandomSamples);

    private static IReadOnlyList<TensorData> BindOutputs(Sample sample, IReadOnlyList<string> outputNames)
    {
        var result = new List<TensorData>();
        for (var k = 0; k < sample.ExpectedOutputs.Count; k++)
        {
            var t = sample.ExpectedOutputs[k];
            if (outputNames.Contains(t.Name))
            {
                result.Add(t);
            }
            else if (k < outputNames.Count)
            {
                result.Add(t.WithName(outputNames[k]));
            }
            else
            {
                throw new OnnxFactorizeException($"{sample.Source}: golden output '{t.Name}' matches no model output; the model has {string.Join(", ", outputNames.Select(n => $"'{n}'"))}.");
            }
        }

        return result;
    }

    internal static long Accumulate(Dictionary<string, MetricsAccumulator> accumulators, IReadOnlyList<TensorData> a, IReadOnlyList<TensorData> b, long[]? labels, long labelOffset, string? labelsPath,
        OutputTask task = OutputTask.Auto)
    {
        var consumed = 0L;
        for (var i = 0; i < a.Count; i++)
        {
            var x = a[i];
            var y = b[i];
            if (!x.Shape.SequenceEqual(y.Shape))
            {
                throw new OnnxFactorizeException($"Output '{x.Name}': shapes differ, reference {TensorData.FormatShape(x.Shape)} vs {TensorData.FormatShape(y.Shape)}.");
            }

            var floating = x.IsFloatingPoint && y.IsFloatingPoint;
            var rows = floating ? MetricsAccumulator.ScoreRows(x.Shape, x.ElementCount, task) : 0;
            ReadOnlySpan<long> slice = default;
            if (labels is not null && rows > 0 && (consumed == 0 || consumed == rows))
            {
                if (labelOffset + rows > labels.Length)
                {
                    throw new OnnxFactorizeException($"{labelsPath}: {labels.Length} labels, but output '{x.Name}' needs at least {labelOffset + rows} (one per score row over all samples).");
                }

                slice = labels.AsSpan((int)labelOffset, (int)rows);
                consumed = rows;
            }

            accumulators[x.Name].Add(x.Shape, x.ToDoubles(), y.ToDoubles(), floating, slice);
        }

        if (labels is not null && consumed == 0)
        {
            throw new OnnxFactorizeException($"{labelsPath}: labels were given but no output is class scores (floating point [N, classes]); for per-pixel or per-token labels declare --task classify.");
        }

        return labelOffset + consumed;
    }

    internal static void CheckLabelsUsed(long[]? labels, long used, string? labelsPath)
    {
        if (labels is not null && used != labels.Length)
        {
            throw new OnnxFactorizeException($"{labelsPath}: {labels.Length} labels, but the samples have {used} score rows; give one label per row.");
        }
    }

    private static LatencyResult MeasureLatency(InferenceSession original, InferenceSession optimized, IReadOnlyList<TensorData> inputs, LatencyOptions options, RunOptions runOptions,
        IProgress<ValidationProgress>? progress, CancellationToken cancellationToken)
    {
        var names = inputs.Select(t => t.Name).ToList();
        var values = inputs.Select(t => t.ToOrtValue()).ToList();
        try
        {
            void RunOnce(InferenceSession s)
            {
                using var outputs = s.Run(runOptions, names, values, s.OutputNames);
            }

            return LatencyBenchmark.Measure(() => RunOnce(original), () => RunOnce(optimized), options, progress, cancellationToken);
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    private static Dictionary<string, long> BoundDims(IReadOnlyList<ModelInput> inputs, IReadOnlyList<TensorData> actual, IReadOnlyDictionary<string, long> given)
    {
        var dims = new Dictionary<string, long>(given, StringComparer.Ordinal);
        for (var i = 0; i < inputs.Count; i++)
        {
            for (var axis = 0; axis < inputs[i].Dims.Count; axis++)
            {
                if (inputs[i].SymbolicDims[axis] is { Length: > 0 } sym)
                {
                    dims[sym] = actual[i].Shape[axis];
                }
            }
        }

        return dims;
    }

    private static ModelSummary Summarize(string path, IReadOnlyDictionary<string, long> dims)
    {
        var loaded = OnnxModel.Load(path);

        // Shapes may have to be measured by running the model; that run replaces the weights, so nothing is inlined.
        var cost = ModelCost.Analyze(loaded, dims);
        return new ModelSummary { Path = path, FileBytes = FileBytes(path, loaded.Proto), Parameters = cost.Parameters, Flops = cost.Flops };
    }

    // The .onnx file plus every external data file its initializers point to (counted once each).
    private static long FileBytes(string path, ModelProto model)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        var external = model.Graph.Initializer
            .Where(t => t.DataLocation == TensorProto.Types.DataLocation.External)
            .SelectMany(t => t.ExternalData.Where(e => e.Key == "location").Select(e => Path.Combine(dir, e.Value)))
            .Distinct(StringComparer.Ordinal)
            .Where(f => File.Exists(f) && !string.Equals(Path.GetFullPath(f), Path.GetFullPath(path), StringComparison.Ordinal));
        return new FileInfo(path).Length + external.Sum(f => new FileInfo(f).Length);
    }
}
