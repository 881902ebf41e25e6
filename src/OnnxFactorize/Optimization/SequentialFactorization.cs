using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using OnnxFactorize.Calibration;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Optimization;

/// <summary>Sequential data-aware factorization (<see cref="DataAwareMode.Sequential"/>). The nodes the svd rules can fit to
/// data (Gemm with transA = 0, MatMul with the weight on the right, 1×1 Conv2d) are grouped by depth: a node's group is the
/// number of such nodes on the longest path from the graph inputs to it, so no node depends on another of its group. The
/// other candidates are factorized first, weight-space. Then, group after group, one pass over the calibration inputs runs
/// the model compressed so far and the original model side by side and collects, per node, the statistics of its input x̃
/// in the former, of its input x in the latter, and Σ x̃ xᵀ; the group's nodes are planned on them (first factor: whitened
/// SVD on x̃; last factor and bias: least squares against W·x, <see cref="SequentialRefit"/>), emitted, and the next group
/// reads the result. One statistics pass per group, each cached by the content hash of both models and the inputs.</summary>
internal static class SequentialFactorization
{
    /// <summary>Factorizes <paramref name="model"/>; adds a note with the groups and the time the statistics passes took
    /// (<paramref name="statisticsTime"/>, also returned).</summary>
    public static FactorizationResult Run(OnnxModel model, FactorizeOptions options, string inputsPath, string? cacheDirectory,
        IReadOnlyDictionary<string, long[]>? shapes, List<string> notes, IProgress<FactorizeProgress>? progress, out TimeSpan statisticsTime,
        CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        statisticsTime = TimeSpan.Zero;
        var original = Named(model);
        var graph = ModelGraph.Import(original, shapes);
        var context = new PassContext(graph, options with { DataAware = DataAwareMode.None }, cancellationToken);
        var candidates = Factorizer.Candidates(graph, options);

        // Fittable nodes (by name) and the activation their weight reads; a value read two ways goes to its first reader.
        var fits = new Dictionary<string, (Node Node, ActivationRequest Request)>(StringComparer.Ordinal);
        var requested = new Dictionary<string, ActivationRequest>(StringComparer.Ordinal);
        foreach (var candidate in candidates)
        {
            var node = candidate.Node;
            if (node.Graph.Path.Length > 0 || !candidate.Rules.Any(r => r.Method == "svd") || candidate.Rules[0].Match(node, context).Candidate is not { } matched
                || DataAwareStatistics.Request(matched) is not { } request
                || (requested.TryGetValue(request.Value, out var existing) && existing != request))
            {
                continue;
            }

            requested[request.Value] = request;
            fits[node.Name] = (node, request);
        }

        var groups = Groups(graph, fits.Keys.ToHashSet(StringComparer.Ordinal));
        var decisions = new List<FactorizationDecision>();
        var current = original;
        var others = candidates.Where(c => !fits.ContainsKey(c.Node.Name)).Select(c => c.Node.Name).ToList();
        if (others.Count > 0)
        {
            // Weight-space first (3×3 convs, subgraph nodes, ...): the groups then see their effect upstream.
            var plain = Factorizer.Run(current, Restricted(options, others) with { DataAware = DataAwareMode.None }, progress, cancellationToken,
                rules: null, measuredShapes: shapes, svdCache: null, inputStatistics: null);
            decisions.AddRange(plain.Decisions.Select(d => d.Status == DecisionStatus.Factorized || fits.Count == 0 ? d : d with { Reason = d.Reason + " Data-aware: planned weight-space here (no Gemm/MatMul/1×1 Conv input to fit)." }));
            current = plain.Model;
        }

        var inputsHash = cacheDirectory is null ? null : CalibrationInputs.Hash(inputsPath);
        var calibration = new CalibrationOptions { BatchSize = 256, CacheDirectory = cacheDirectory };
        var passes = 0;
        var cached = 0;
        foreach (var group in groups)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var compressedGraph = ModelGraph.Import(current);
            var pairs = new Dictionary<string, PairedRequest>(StringComparer.Ordinal);
            var readers = new List<(string Output, string Value)>();
            foreach (var name in group)
            {
                var (node, request) = fits[name];

                // The node itself is untouched so far: it keeps its output, and reads whatever now feeds its data input.
                var now = compressedGraph.Main.Find(node.Outputs[0].Name)?.Producer
                    ?? throw new OnnxFactorizeException($"{model.Name}: node '{name}' disappeared while factorizing upstream nodes; run --data-aware whiten instead.");
                var value = now.Inputs[0]!.Name;
                var pair = new PairedRequest(request.Conv is null ? ActivationRequest.LastAxis(value) : ActivationRequest.ConvPatches(value, request.Conv), request.Value);
                if (!pairs.TryAdd(value, pair) && pairs[value] != pair)
                {
                    continue;
                }

                readers.Add((node.Outputs[0].Name, value));
            }

            var watch = Stopwatch.StartNew();
            var collected = PairedCollector.Collect(current, original, [.. pairs.Values], CalibrationInputs.Stream(inputsPath), calibration, inputsHash, out var ran, cancellationToken);
            statisticsTime += watch.Elapsed;
            passes += ran ? 1 : 0;
            cached += ran ? 0 : 1;
            var byValue = collected.ToDictionary(s => s.Request.Compressed.Value, StringComparer.Ordinal);
            var statistics = readers.ToDictionary(r => r.Output, r => byValue[r.Value].Compressed, StringComparer.Ordinal);
            var targets = collected.ToDictionary(s => s.Compressed, s => new ReconstructionTargets(s.Original, s.Cross));
            var step = Factorizer.Run(current, Restricted(options, group), progress, cancellationToken, rules: null, measuredShapes: shapes, svdCache: null,
                inputStatistics: statistics, targets: targets);
            decisions.AddRange(step.Decisions);
            current = step.Model;
        }

        var seconds = total.Elapsed.TotalSeconds;
        notes.Add(string.Create(CultureInfo.InvariantCulture,
            $"note: data-aware (sequential): {fits.Count} node(s) in {groups.Count} group(s) by depth; {passes} statistics pass(es) over '{inputsPath}'{(cached > 0 ? $", {cached} group(s) from the statistics cache" : "")}; statistics {statisticsTime.TotalSeconds:F2} s of {seconds:F2} s ({(seconds > 0 ? 100 * statisticsTime.TotalSeconds / seconds : 0):F0} %)."));
        var order = candidates.Select((c, i) => (c.Node.Name, i)).ToDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        var sorted = decisions.OrderBy(d => order.TryGetValue(d.NodeName, out var i) ? i : int.MaxValue).ToList();
        return new FactorizationResult(ReferenceEquals(current, original) ? model : current, sorted);
    }

    // Fittable node names grouped by depth: the number of fittable nodes on the longest path from the inputs to each.
    private static List<List<string>> Groups(ModelGraph graph, HashSet<string> fittable)
    {
        var reach = new Dictionary<string, int>(StringComparer.Ordinal);
        var groups = new SortedDictionary<int, List<string>>();
        foreach (var node in graph.Main.Nodes)
        {
            var depth = node.Inputs.Where(v => v is not null).Select(v => reach.GetValueOrDefault(v!.Name)).DefaultIfEmpty(0).Max();
            if (fittable.Contains(node.Name))
            {
                (groups.TryGetValue(depth, out var list) ? list : groups[depth] = []).Add(node.Name);
                depth++;
            }

            foreach (var output in node.Outputs)
            {
                reach[output.Name] = depth;
            }
        }

        return [.. groups.Values];
    }

    // Exactly the named nodes (every candidate has a name, see Named).
    private static FactorizeOptions Restricted(FactorizeOptions options, IEnumerable<string> names) =>
        options with { Only = new Regex("^(?:" + string.Join('|', names.Select(Regex.Escape)) + ")$", RegexOptions.CultureInvariant), Exclude = null };

    // Main-graph nodes without a name get their label (op#index), so they can be found again in the rewritten models.
    private static OnnxModel Named(OnnxModel model)
    {
        var nodes = model.Proto.Graph.Node;
        if (nodes.All(n => n.Name.Length > 0))
        {
            return model;
        }

        var proto = model.Proto.Clone();
        var taken = proto.Graph.Node.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < proto.Graph.Node.Count; i++)
        {
            var node = proto.Graph.Node[i];
            if (node.Name.Length == 0)
            {
                var name = $"{node.OpType}#{i}";
                while (!taken.Add(name))
                {
                    name += "_";
                }

                node.Name = name;
            }
        }

        return OnnxModel.FromProto(proto, model.Name, model.BaseDirectory, model.SourcePath);
    }
}
