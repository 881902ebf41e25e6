using System.Globalization;
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
        if (decisions.Count == 0 || (before > 0 && saved >= Little * before) || (before == 0 && decisions.Any(d => d.Status == DecisionStatus.Factorized)))
        {
            return null;
        }

        var graph = ModelGraph.Import(model, shapes);
        var options = request.Factorize with { NodePolicies = new Dictionary<string, RankPolicy>() };
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

        var what = saved == 0 ? "nothing was factorized" : "little was factorized";
        var model0 = request.ModelPath;
        var output = request.OutputPath ?? "out.onnx";
        return priced.Count == 0
            ? $"advice: {what} at {request.Factorize.RankPolicy}, and no rank ratio down to {Ratios[^1]} saves anything on these weights."
            : $"advice: {what} at {request.Factorize.RankPolicy} (trained and random weights have flat spectra); {string.Join("; ", priced)}. " +
              $"Let accuracy decide: onnx-factorize optimize {model0} -o {output} --max-error 0.02 --validate (ranks measured in ONNX Runtime), " +
              $"or onnx-factorize analyze {model0} for every node's spectrum.";
    }
}
