using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Analysis;

/// <summary>The smallest rank that keeps a given fraction of a weight's energy (Σ σ_i² over ‖W‖_F²).</summary>
public sealed record EnergyRank(double Energy, int Rank);

/// <summary>What one method would do to a node under the chosen policy: rank, parameters and FLOPs after, weight error, and
/// (with calibration inputs, <c>analyze --inputs</c>) whether it was fitted to the data ("whiten") and its output error on
/// the calibration data.</summary>
public sealed record MethodEstimate(string Method, int Rank, long ParamsAfter, long FlopsAfter, double WeightRelError, string Mode = "plain", double? OutputRelError = null);

/// <summary>Analysis of one candidate node: its weight, cost, spectrum summary and what each method would save.</summary>
public sealed record NodeAnalysis
{
    /// <summary>Node name (or generated label).</summary>
    public required string NodeName { get; init; }

    /// <summary>Operator type.</summary>
    public required string OpType { get; init; }

    /// <summary>Subgraph path ("" for the main graph).</summary>
    public string GraphPath { get; init; } = "";

    /// <summary>Weight shape as stored; empty when the node has no usable constant weight.</summary>
    public IReadOnlyList<long> WeightShape { get; init; } = [];

    /// <summary>Weight parameters.</summary>
    public long Params { get; init; }

    /// <summary>FLOPs from static shapes (2 per multiply-add); 0 when unknown.</summary>
    public long Flops { get; init; }

    /// <summary>Ranks capturing each level of <see cref="ModelAnalyzer.EnergyLevels"/>; empty when no spectrum was computed.</summary>
    public IReadOnlyList<EnergyRank> EnergyRanks { get; init; } = [];

    /// <summary>Rank the policy chooses, or 0 when the node would be skipped.</summary>
    public int SuggestedRank { get; init; }

    /// <summary>Largest rank that still saves parameters; 0 when unknown.</summary>
    public int BreakEvenRank { get; init; }

    /// <summary>Whether the policy would factorize the node.</summary>
    public bool WouldFactorize { get; init; }

    /// <summary>Why the node would be skipped, or how the rank was chosen.</summary>
    public string Reason { get; init; } = "";

    /// <summary>Estimated effect per method that applies to the node.</summary>
    public IReadOnlyList<MethodEstimate> Methods { get; init; } = [];

    /// <summary>With calibration inputs: ranks keeping each level of <see cref="ModelAnalyzer.EnergyLevels"/> of the
    /// output-space spectrum (the whitened SVD of W on the centered input Gram, so energy is ‖W·(X − μ)‖² on the data);
    /// empty without inputs or when no statistics of the node's input were collected.</summary>
    public IReadOnlyList<EnergyRank> OutputEnergyRanks { get; init; } = [];

    /// <summary>How the suggested factorization was fitted: "plain" (weight space) or "whiten" (to the calibration data).</summary>
    public string Mode { get; init; } = "plain";

    /// <summary>‖W − Ŵ‖_F / ‖W‖_F of the suggested factorization; null when it would not factorize.</summary>
    public double? WeightRelError { get; init; }

    /// <summary>Relative output error of the suggested factorization on the calibration data (‖(W − Ŵ)(X − μ)‖ / ‖W(X − μ)‖,
    /// bias corrected); null without calibration inputs or when it would not factorize.</summary>
    public double? OutputRelError { get; init; }
}

/// <summary>Analysis of a whole model under one set of options.</summary>
public sealed record ModelAnalysis
{
    /// <summary>Model name or path.</summary>
    public required string Model { get; init; }

    /// <summary>The rank policy the suggestions use, e.g. "energy 0.99".</summary>
    public required string Policy { get; init; }

    /// <summary>Per candidate node, in graph order.</summary>
    public required IReadOnlyList<NodeAnalysis> Nodes { get; init; }

    /// <summary>The calibration inputs the output-space spectra and errors come from (<c>analyze --inputs</c>), or null.</summary>
    public string? CalibrationInputs { get; init; }

    /// <summary>Operator types present in the model that were asked for but have no factorization pass in this build.</summary>
    public IReadOnlyList<string> OpsWithoutPass { get; init; } = [];

    /// <summary>Weight parameters saved if every suggested node were factorized.</summary>
    public long ParamsSaved => Nodes.Where(n => n.WouldFactorize).Sum(n => n.Params - n.Methods.Select(m => m.ParamsAfter).DefaultIfEmpty(n.Params).Min());
}

/// <summary>Reports, without writing a model, what factorization would do per node: the weight spectrum's energy ranks,
/// the rank the policy suggests, the break-even rank and the estimated savings of each available method.</summary>
public static class ModelAnalyzer
{
    /// <summary>Energy fractions reported per node.</summary>
    public static IReadOnlyList<double> EnergyLevels { get; } = [0.90, 0.95, 0.99, 0.999];

    /// <summary>Methods whose savings are estimated per Conv node.</summary>
    private static readonly string[] ConvMethods = ["svd", "tucker2", "spatial-svd", "depthwise"];

    /// <summary>Analyzes <paramref name="model"/>: every rank is priced through the rules' Plan step on one imported graph;
    /// nothing is emitted and the model is not modified.</summary>
    public static ModelAnalysis Analyze(OnnxModel model, FactorizeOptions options, IProgress<FactorizeProgress>? progress = null,
        CancellationToken cancellationToken = default, IReadOnlyList<IFactorizationRule>? rules = null,
        IReadOnlyDictionary<string, long[]>? measuredShapes = null) =>
        Analyze(model, options, progress, cancellationToken, rules, measuredShapes, inputStatistics: null, calibrationInputs: null);

    /// <summary>Analyzes <paramref name="model"/> with the calibration statistics of data-aware factorization
    /// (<see cref="PassContext.InputStatistics"/>, collected from <paramref name="calibrationInputs"/>): nodes with statistics
    /// are planned fitted to the data (<see cref="DataAwareMode.Whiten"/>) and also report their output-space spectrum.</summary>
    internal static ModelAnalysis Analyze(OnnxModel model, FactorizeOptions options, IProgress<FactorizeProgress>? progress,
        CancellationToken cancellationToken, IReadOnlyList<IFactorizationRule>? rules, IReadOnlyDictionary<string, long[]>? measuredShapes,
        IReadOnlyDictionary<string, GramAccumulator>? inputStatistics, string? calibrationInputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        rules ??= Factorizer.DefaultRules;
        var graph = ModelGraph.Import(model, measuredShapes);
        if (inputStatistics is not null)
        {
            options = options with { DataAware = DataAwareMode.Whiten };
        }

        var context = new PassContext(graph, options, cancellationToken) { InputStatistics = inputStatistics ?? new Dictionary<string, GramAccumulator>() };
        var candidates = Factorizer.Candidates(graph, options, rules);
        var withoutRule = graph.AllGraphs()
            .SelectMany(g => g.Nodes)
            .Where(n => n.IsDefaultDomain && options.IncludesOp(n.OpType) && !rules.Any(p => p.OpType == n.OpType))
            .Select(n => n.OpType)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var nodes = new List<NodeAnalysis>();
        var work = candidates.Select(c => WorkUnits.Of(c.Node)).ToArray();
        for (var i = 0; i < candidates.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var candidate = candidates[i];
            var node = candidate.Node;
            progress?.Report(new FactorizeProgress(i, candidates.Count, candidate.Label) { WorkDone = work[..i].Sum(), WorkTotal = work.Sum() });
            var energyRanks = EnergyRanksOf(node, context, cancellationToken);
            var policy = context.PolicyFor(node);
            var decision = Factorizer.Decide(candidate, context, policy).Decision;
            var factorized = decision.Status == DecisionStatus.Factorized;
            IReadOnlyList<MethodEstimate> estimates = node.OpType == "Conv"
                ? ConvAlternatives(candidate, context, rules, policy)
                : factorized ? [Estimate(decision)] : [];
            nodes.Add(new NodeAnalysis
            {
                NodeName = decision.NodeName,
                OpType = decision.OpType,
                GraphPath = decision.GraphPath,
                WeightShape = decision.WeightShape,
                Params = decision.ParamsBefore > 0 ? decision.ParamsBefore : decision.WeightShape.Aggregate(decision.WeightShape.Count > 0 ? 1L : 0L, (a, d) => a * d),
                Flops = decision.FlopsBefore,
                EnergyRanks = energyRanks,
                SuggestedRank = factorized ? decision.Rank : 0,
                BreakEvenRank = decision.BreakEvenRank > 0 || decision.WeightShape.Count != 2 || decision.WeightShape.Any(d => d < 1)
                    ? decision.BreakEvenRank
                    : RankSelection.BreakEvenRank((int)decision.WeightShape[0], (int)decision.WeightShape[1]),
                WouldFactorize = factorized,
                Reason = factorized ? $"{decision.Method}: {decision.Reason}" : decision.Reason,
                Methods = estimates,
                OutputEnergyRanks = OutputEnergyRanksOf(node, context, cancellationToken),
                Mode = decision.Mode,
                WeightRelError = factorized ? decision.WeightRelError : null,
                OutputRelError = factorized ? decision.OutputRelError : null,
            });
        }

        progress?.Report(new FactorizeProgress(candidates.Count, candidates.Count, "") { WorkDone = work.Sum(), WorkTotal = work.Sum() });
        return new ModelAnalysis
        {
            Model = model.SourcePath ?? model.Name,
            Policy = options.RankPolicy.ToString(),
            Nodes = nodes,
            OpsWithoutPass = withoutRule,
            CalibrationInputs = calibrationInputs,
        };
    }

    private static MethodEstimate Estimate(FactorizationDecision d) => new(d.Method, d.Rank, d.ParamsAfter, d.FlopsAfter, d.WeightRelError, d.Mode, d.OutputRelError);

    /// <summary>What every Conv method would do to the node under the same policy, each planned alone (factorized outcomes only).</summary>
    private static List<MethodEstimate> ConvAlternatives(NodeCandidate candidate, PassContext context, IReadOnlyList<IFactorizationRule> rules, RankPolicy policy)
    {
        var result = new List<MethodEstimate>();
        foreach (var method in ConvMethods)
        {
            var rule = rules.FirstOrDefault(r => r.OpType == "Conv" && r.Method == method);
            if (rule is null)
            {
                continue;
            }

            var alone = new PassContext(context.Model, context.Options with { Methods = [method] }, context.CancellationToken, context.SvdCache)
            {
                InputStatistics = context.InputStatistics,
            };
            var outcome = Factorizer.Decide(candidate with { Rules = [rule] }, alone, policy);
            if (outcome.Plan is not null)
            {
                result.Add(Estimate(outcome.Decision));
            }
        }

        return result;
    }

    // Singular values do not change under transposition, so the weight's stored orientation is used as is; a Conv kernel
    // is viewed as the C_out × (C_in/g·Πk) matrix.
    private static IReadOnlyList<EnergyRank> EnergyRanksOf(Node node, PassContext context, CancellationToken cancellationToken)
    {
        var index = node.OpType == "MatMul" && node.Inputs.Count > 1 && node.Inputs[1] is { } b && PassContext.ConstantTensor(b) is null ? 0 : 1;
        if (index >= node.Inputs.Count || node.Inputs[index] is not { } input || PassContext.ShapeOf(input) is not { Count: >= 2 } stored
            || (node.OpType != "Conv" && stored.Count != 2)
            || context.TryReadWeight(node, index, out _, out var values) is not null)
        {
            return [];
        }

        var rows = (int)stored[0];
        var cols = values.Length / Math.Max(rows, 1);
        if ((long)rows * cols != values.Length || rows == 0 || cols == 0)
        {
            return [];
        }

        var svd = TruncatedSvd.ComputeExact(values, rows, cols, cancellationToken);
        return [.. EnergyLevels.Select(level => new EnergyRank(level, RankPolicy.Energy(level).SelectRank(svd.S, svd.FrobeniusNormSquared, svd.Rows, svd.Cols)))];
    }

    // The output-space spectrum: the whitened SVD of the weight (out×in view) on the centered Gram of what it reads.
    private static IReadOnlyList<EnergyRank> OutputEnergyRanksOf(Node node, PassContext context, CancellationToken cancellationToken)
    {
        if (context.InputStatisticsOf(node) is not { } statistics)
        {
            return [];
        }

        const int index = 1;
        if (node.Inputs.Count <= index || node.Inputs[index] is not { } input || PassContext.ShapeOf(input) is not { Count: >= 2 } stored
            || context.TryReadWeight(node, index, out _, out var values) is not null)
        {
            return [];
        }

        // Conv [C_out, C_in, k…] and Gemm transB = 1 store out×in; MatMul and Gemm transB = 0 store in×out.
        var outByIn = node.OpType == "Conv" || (node.OpType == "Gemm" && node.GetInt("transB", 0) != 0);
        var rows = (int)stored[0];
        var cols = values.Length / Math.Max(rows, 1);
        var inputs = outByIn ? cols : rows;
        if ((long)rows * cols != values.Length || inputs != statistics.Dimension)
        {
            return [];
        }

        var svd = WhitenedSvd.Compute(values, rows, cols, outByIn ? WeightLayout.OutByIn : WeightLayout.InByOut, context.WhiteningOf(statistics), Math.Min(rows, cols),
            context.Options.Svd, cancellationToken).Spectrum;
        return [.. EnergyLevels.Select(level => new EnergyRank(level, RankPolicy.Energy(level).SelectRank(svd.S, svd.FrobeniusNormSquared, svd.Rows, svd.Cols)))];
    }
}
