using OnnxFactorize.Calibration;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Optimization;

/// <summary>Collects, once per run, the input statistics data-aware factorization needs: for every main-graph candidate
/// the svd rules can fit to data (Gemm with transA = 0, MatMul with the weight on the right, 1×1 Conv2d), the Gram and
/// mean of what its weight reads, over the calibration inputs, in one ONNX Runtime session.</summary>
internal static class DataAwareStatistics
{
    /// <summary>Statistics keyed by each candidate's first output name (see <see cref="PassContext.InputStatistics"/>).</summary>
    public static IReadOnlyDictionary<string, GramAccumulator> Collect(OnnxModel model, FactorizeOptions options, string inputsPath,
        IReadOnlyDictionary<string, long[]>? shapes, List<string> notes, CancellationToken cancellationToken, string? cacheDirectory = null)
    {
        var graph = ModelGraph.Import(model, shapes);
        var context = new PassContext(graph, options with { DataAware = DataAwareMode.None }, cancellationToken);
        var requests = new Dictionary<string, ActivationRequest>(StringComparer.Ordinal);
        var readers = new List<(string Output, ActivationRequest Request)>();
        var conflicts = 0;
        foreach (var candidate in Factorizer.Candidates(graph, options))
        {
            var node = candidate.Node;
            if (node.Graph.Path.Length > 0 || !candidate.Rules.Any(r => r.Method == "svd" || r is ConvMethodPass))
            {
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (candidate.Rules[0].Match(node, context).Candidate is not { } matched || Request(matched, candidate.Rules) is not { } request)
            {
                continue;
            }

            if (requests.TryGetValue(request.Value, out var existing) && existing != request)
            {
                // One activation read two ways (e.g. by 1×1 convs of different strides): the first one's statistics are collected.
                conflicts++;
                continue;
            }

            requests[request.Value] = request;
            readers.Add((node.Outputs[0].Name, request));
        }

        if (requests.Count == 0)
        {
            notes.Add("note: data-aware: no Gemm/MatMul/Conv node reads an activation it could be fitted to; every node is fitted weight-space.");
            return new Dictionary<string, GramAccumulator>();
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var inputsHash = cacheDirectory is null ? null : CalibrationInputs.Hash(inputsPath);
        var collected = CalibrationCollector.Collect(model, [.. requests.Values], CalibrationInputs.Stream(inputsPath),
            new CalibrationOptions { BatchSize = 256, CacheDirectory = cacheDirectory }, inputsHash, cancellationToken);
        var result = new Dictionary<string, GramAccumulator>(StringComparer.Ordinal);
        foreach (var (output, request) in readers)
        {
            result[output] = collected[request.Value].Inputs;
        }

        var rows = collected.Values.Max(s => s.Inputs.Count);
        notes.Add($"note: data-aware: statistics of {requests.Count} activation(s) for {readers.Count} node(s), up to {rows} rows each, from '{inputsPath}'"
            + string.Create(System.Globalization.CultureInfo.InvariantCulture, $" in one pass ({watch.Elapsed.TotalSeconds:F2} s{(cacheDirectory is null ? "" : ", statistics cache " + cacheDirectory)})")
            + (conflicts > 0 ? $"; {conflicts} node(s) read an activation another node reads differently and are fitted weight-space." : "."));
        return result;
    }

    // The activation a matched candidate's weight reads, or null when the data-aware rules do not fit it to data.
    // Sequential mode refits matrix-shaped weights only (Gemm, MatMul, 1×1 Conv): k×k kernels are not requested for it.
    internal static ActivationRequest? Request(FactorizationCandidate candidate) =>
        candidate is ConvSubject { Geometry.IsPointwise: false } ? null : Request(candidate, []);

    private static ActivationRequest? Request(FactorizationCandidate candidate, IReadOnlyList<IFactorizationRule> rules)
    {
        if (candidate is ConvSubject { Geometry.IsPointwise: false } kernel)
        {
            return KernelRequest(kernel, rules);
        }

        var node = candidate.Node;
        switch (candidate)
        {
            case MatrixCandidate when node.OpType == "Gemm" && node.GetInt("transA", 0) == 0:
            case MatrixCandidate when node.OpType == "MatMul" && candidate.WeightIndex == 1:
                return node.Inputs[0] is { IsConstant: false } x ? ActivationRequest.LastAxis(x.Name) : null;
            case ConvSubject { Geometry: { IsPointwise: true, SpatialRank: 2, Group: 1 } g } when node.Inputs[0] is { IsConstant: false } input:
                // Explicit pads; with auto_pad a 1×1 kernel gets none.
                return ActivationRequest.ConvPatches(input.Name, Patches(g));
            default:
                return null;
        }
    }

    // A k×k Conv2d (spatial-svd, tucker2, depthwise fit to data, ConvDataAwareRules): the Gram of its full im2col patches,
    // when a selected method can serve its geometry.
    private static ActivationRequest? KernelRequest(ConvSubject subject, IReadOnlyList<IFactorizationRule> rules)
    {
        var g = subject.Geometry;
        if (subject.Node.Inputs[0] is not { IsConstant: false } input || ConvDataAwareRules.Uncollectable(g) is not null
            || !rules.Any(r => r is ConvMethodPass m && m.Unsupported(g) is null))
        {
            return null;
        }

        return ActivationRequest.ConvPatches(input.Name, Patches(g));
    }

    // The im2col patches a Conv2d's kernel reads: its kernel, strides, dilations and explicit pads.
    private static ConvPatchGeometry Patches(ConvGeometry g) => new()
    {
        KernelHeight = (int)g.Kernel[0],
        KernelWidth = (int)g.Kernel[1],
        StrideHeight = (int)g.Strides[0],
        StrideWidth = (int)g.Strides[1],
        DilationHeight = (int)g.Dilations[0],
        DilationWidth = (int)g.Dilations[1],
        PadTop = (int)g.Pads[0],
        PadLeft = (int)g.Pads[1],
        PadBottom = (int)g.Pads[2],
        PadRight = (int)g.Pads[3],
    };
}
