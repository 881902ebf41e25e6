using System.Diagnostics;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Benchmarks;

/// <summary><c>rule-profile MODEL [ratio|energy=E]</c>: where an auto-mode optimize spends its time, per node and method, one
/// thread: Match (weight read), Target (auto's common error), each rule's Plan, and the factorizer's whole Decide (which
/// skips the decompositions that cannot win), in milliseconds.</summary>
internal static class RuleProfile
{
    public static int Run(string[] args)
    {
        var model = OnnxModel.Load(args[0]);
        var policy = args.Length > 1 && args[1].StartsWith("energy=", StringComparison.Ordinal)
            ? RankPolicy.Energy(double.Parse(args[1][7..], System.Globalization.CultureInfo.InvariantCulture))
            : RankPolicy.Ratio(args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 0.25);
        var options = new FactorizeOptions { RankPolicy = policy };
        var graph = ModelGraph.Import(model);
        var context = new PassContext(graph, options);
        var candidates = Factorizer.Candidates(graph, options);
        var totals = new Dictionary<string, double>(StringComparer.Ordinal);
        void Add(string key, double ms) => totals[key] = totals.GetValueOrDefault(key) + ms;
        using var cap = Parallelism.Limit(1);
        Console.WriteLine($"{"node",-10} {"match",8} {"target",8} {string.Join(" ", candidates[0].Rules.Select(r => $"{r.Method,12}"))}");
        foreach (var candidate in candidates)
        {
            var sw = Stopwatch.StartNew();
            var match = candidate.Rules[0].Match(candidate.Node, context);
            var matchMs = sw.Elapsed.TotalMilliseconds;
            Add("match", matchMs);
            if (match.Candidate is not { } subject)
            {
                continue;
            }

            sw.Restart();
            var target = candidate.Rules[0].Target(subject, policy, auto: true);
            var targetMs = sw.Elapsed.TotalMilliseconds;
            Add("target", targetMs);
            var cells = new List<string>();
            foreach (var rule in candidate.Rules)
            {
                if (rule.Unsupported(subject) is not null)
                {
                    cells.Add($"{"-",12}");
                    continue;
                }

                sw.Restart();
                var plan = rule.Plan(subject, target, out _);
                var ms = sw.Elapsed.TotalMilliseconds;
                Add(rule.Method, ms);
                cells.Add($"{ms,8:F0}{(plan is null ? " rej" : $" {plan.Decision.FlopsAfter / 1e6,3:F0}M")}");
            }

            // The whole decision as the factorizer makes it (priced rules that cannot win are not decomposed).
            sw.Restart();
            var outcome = Factorizer.Decide(candidate, new PassContext(graph, options), policy);
            var decideMs = sw.Elapsed.TotalMilliseconds;
            Add("decide", decideMs);
            Console.WriteLine($"{candidate.Label,-10} {matchMs,8:F0} {targetMs,8:F0} {string.Join(" ", cells)} | decide {decideMs,7:F0} {outcome.Decision.Method}");
        }

        Console.WriteLine("total ms: " + string.Join(", ", totals.Select(t => $"{t.Key} {t.Value:F0}")));
        return 0;
    }
}
