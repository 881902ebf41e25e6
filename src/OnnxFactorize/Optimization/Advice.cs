using System.Globalization;
using OnnxFactorize.Analysis;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Optimization;

/// <summary>When a rank policy factorizes nothing (or little), says what would: the FLOPs two rank ratios would cut, priced
/// through the rules' Plan step (nothing is rewritten), and the commands that let accuracy decide.</summary>
internal static class Advice
{
    /// <summary>Below this fraction of the candidates' FLOPs saved, the result counts as "little".</summary>
    private const double Little = 0.05;

    private static readonly double[] Ratios = [0.5, 0.25];

    public static string? For(OnnxModel model, OptimizeRequest request, FactorizationResult result, IReadOnlyDictionary<string, long[]>? shapes,
        CancellationToken cancellationToken)
    {
        var decisions = result.Decisions;
        var before = decisions.Sum(d => d.FlopsBefore);
        var saved = decisions.Where(d => d.Status == DecisionStatus.Factorized).Sum(d => d.FlopsBefore - d.FlopsAfter);
        var any = decisions.Any(d => d.Status == DecisionStatus.Factorized);
        if (!Needed(decisions.Count, before, saved, any))
        {
            return null;
        }

        var what = saved == 0 ? "nothing was factorized" : "little was factorized";
        var tryNext = $"onnx-factorize optimize {request.ModelPath} -o {request.OutputPath ?? "out.onnx"} --max-error 0.02 --validate (ranks measured in ONNX Runtime), " +
            $"or onnx-factorize analyze {request.ModelPath} for every node's spectrum";
        return Text(model, request.Factorize, shapes, what, tryNext, cancellationToken);
    }

    /// <summary>The same advice for <c>analyze</c>: when the policy would factorize nothing (or little) of the analyzed
    /// candidates, what the rank ratios would cut and the budget command to try.</summary>
    public static string? ForAnalysis(OnnxModel model, string modelPath, FactorizeOptions options, ModelAnalysis analysis,
        IReadOnlyDictionary<string, long[]>? shapes, CancellationToken cancellationToken)
    {
        var before = analysis.Nodes.Sum(n => n.Flops);
        var suggested = analysis.Nodes.Where(n => n.WouldFactorize).ToList();
        var saved = suggested.Sum(n => n.Flops - n.Methods.Select(m => m.FlopsAfter).DefaultIfEmpty(n.Flops).Min());
        if (!Needed(analysis.Nodes.Count, before, saved, suggested.Count > 0))
        {
            return null;
        }

        var what = suggested.Count == 0 ? "nothing would be factorized" : "little would be factorized";
        var tryNext = $"onnx-factorize optimize {modelPath} -o out.onnx --max-error 0.02 --validate (ranks measured in ONNX Runtime)";
        return Text(model, options, shapes, what, tryNext, cancellationToken);
    }

    private static bool Needed(int candidates, long before, long saved, bool anyFactorized) =>
        candidates > 0 && (before > 0 ? saved < Little * before : !anyFactorized);

    private static string Text(OnnxModel model, FactorizeOptions factorize, IReadOnlyDictionary<string, long[]>? shapes, string what, string tryNext,
        CancellationToken cancellationToken)
    {
        var graph = ModelGraph.Import(model, shapes);
        var options = factorize with { NodePolicies = new Dictionary<string, RankPolicy>() };
        var context = new PassContext(graph, options, cancellationToken);
        var candidates = Factorizer.Candidates(graph, options);
        var priced = new List<string>();
        foreach (var ratio in Ratios)
        {
            long flopsBefore = 0, flopsAfter = 0;
            var nodes = 0;
            var worst = 0.0;
            foreach (var (planned, decision) in Factorizer.DecideAll(candidates, context, RankPolicy.Ratio(ratio), o => (o.Plan is not null, o.Decision)))
            {
                flopsBefore += decision.FlopsBefore;
                flopsAfter += planned ? decision.FlopsAfter : decision.FlopsBefore;
                if (planned)
                {
                    nodes++;
                    worst = Math.Max(worst, decision.WeightRelError);
                }
            }

            if (nodes > 0 && flopsBefore > 0)
            {
                priced.Add(string.Create(CultureInfo.InvariantCulture,
                    $"--rank-ratio {ratio} would factorize {nodes} node(s) and cut the candidates' FLOPs by {100.0 * (flopsBefore - flopsAfter) / flopsBefore:F0} % (weight error up to {worst:G2})"));
            }
        }

        return priced.Count == 0
            ? $"advice: {what} at {factorize.RankPolicy}, and no rank ratio down to {Ratios[^1]} saves anything on these weights."
            : $"advice: {what} at {factorize.RankPolicy} (trained and random weights have flat spectra); {string.Join("; ", priced)}. " +
              $"Let accuracy decide: {tryNext}.";
    }
}
