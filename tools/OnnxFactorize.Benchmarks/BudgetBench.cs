using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Planning;
using OnnxFactorize.Benchmarks.Aimet;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Benchmarks;

/// <summary>Budget planning on the fetched real models (run tools/fetch-models.sh first):
/// <c>budget-table</c> prints FLOP/parameter reduction, latency speedup and error for budgets 1 %, 2 %, 5 %;
/// <c>budget-search</c> times the search against the naive way (one full model and session per node and rank) and a
/// warm-cache rerun, as ratios; <c>budget-vs-aimet</c> compares the planner with AIMET's greedy compression-ratio
/// selection (<see cref="AimetGreedyBaseline"/>) at equal budget, both cold and without the latency guard.</summary>
internal static class BudgetBench
{
    private static readonly string[] DefaultIds = ["openwakeword-hello-deepa", "openwakeword-hello-deepa-old", "openwakeword-namaste-deepa", "ppocr-mobile-v2-cls"];

    public static int Table(string[] args)
    {
        var ids = args.Length > 0 ? args : DefaultIds;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine("| model | budget | nodes factorized | FLOPs | weight params (candidates) | latency speedup | rel L2 error | verifications | plan time |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var id in ids)
        {
            var path = ModelPath(id);
            var cache = Path.Combine(Path.GetTempPath(), "onnxf-budget-table-" + id);
            foreach (var budget in new[] { 0.01, 0.02, 0.05 })
            {
                var options = Options(id, budget) with { CacheDirectory = cache };
                var clock = Stopwatch.StartNew();
                var result = BudgetPlanner.Run(OnnxModel.Load(path), options);
                var seconds = clock.Elapsed.TotalSeconds;
                var outPath = Path.Combine(Path.GetTempPath(), $"onnxf-budget-{id}-{budget.ToString(inv)}.onnx");
                result.Factorization.Model.Save(outPath);
                var check = ModelValidator.Compare(path, outPath, new ValidationOptions
                {
                    Inputs = options.Inputs,
                    Latency = new LatencyOptions { WarmupRuns = 20, Runs = 200, IntraOpThreads = 1 },
                });
                var error = check.Outputs.Max(o => o.RelL2Error);
                var factorized = result.Plan.Nodes.Count(n => n.ChosenRank > 0);

                // Weight parameters of the candidate nodes, from the decisions (ppocr keeps its weights in Constant nodes, which
                // the model-level initializer count does not see).
                var paramsBefore = result.Factorization.Decisions.Sum(d => d.ParamsBefore);
                var paramsAfter = result.Factorization.Decisions.Sum(d => d.ParamsAfter);
                Console.WriteLine(string.Create(inv,
                    $"| {id} | {budget:P0} | {factorized}/{result.Plan.Nodes.Count} | {Ratio(check.Original.Flops, check.Optimized.Flops)} | {Ratio(paramsBefore, paramsAfter)} | {check.Latency!.Speedup:F2}× | {error:G3} | {result.Plan.Stats.Verifications} | {seconds:F1} s |"));
            }
        }

        return 0;
    }

    public static int Ladders(string[] args)
    {
        var id = args[0];
        var budget = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 0.02;
        var result = BudgetPlanner.Run(OnnxModel.Load(ModelPath(id)), Options(id, budget) with { CacheDirectory = null, SharedSessions = !args.Contains("naive"), LatencyGuard = !args.Contains("no-guard") });
        foreach (var n in result.Plan.Nodes.Where(n => n.Ladder.Count > 0))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n.NodeName} {n.OpType} params {n.ParamsBefore} flops {n.FlopsBefore} break-even {n.BreakEvenRank} latency break-even {n.LatencyBreakEvenRank} original {n.OriginalLatencyMs:F4} ms -> chosen {n.ChosenRank}: {n.Reason}"));
            foreach (var p in n.Ladder)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {p.Method} rank {p.Rank} [{string.Join(",", p.Ranks)}] energy {p.Energy} error {p.Error:G3} params {p.Params} flops {p.Flops} latency {p.LatencyMs:F4} ms speedup {p.Speedup:F2}"));
            }
        }

        foreach (var v in result.Plan.Verifications)
        {
            Console.WriteLine(v);
        }

        Console.WriteLine(result.Plan.Stats);
        return 0;
    }

    public static int Search(string[] args)
    {
        var ids = args.Length > 0 ? args : DefaultIds;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine("| model | nodes | rungs | shared: sessions / time | naive: sessions / time | naive ÷ shared | warm cache time | cold ÷ warm | same choice |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var id in ids)
        {
            var path = ModelPath(id);
            var cache = Path.Combine(Path.GetTempPath(), "onnxf-budget-search-" + Guid.NewGuid().ToString("N")[..8]);
            var options = Options(id, 0.02) with { LatencyGuard = false };
            BudgetPlanner.Run(OnnxModel.Load(path), options with { CacheDirectory = null }); // JIT and ORT warm-up

            var (shared, sharedTime) = Timed(() => BudgetPlanner.Run(OnnxModel.Load(path), options with { CacheDirectory = cache }, svdCache: new SvdCache(Path.Combine(cache, "svd"))));
            var (naive, naiveTime) = Timed(() => BudgetPlanner.Run(OnnxModel.Load(path), options with { CacheDirectory = null, SharedSessions = false }, svdCache: new SvdCache()));
            var (warm, warmTime) = Timed(() => BudgetPlanner.Run(OnnxModel.Load(path), options with { CacheDirectory = cache }, svdCache: new SvdCache(Path.Combine(cache, "svd"))));
            var same = shared.Plan.Nodes.Select(n => n.ChosenRank).SequenceEqual(naive.Plan.Nodes.Select(n => n.ChosenRank));
            Console.WriteLine(string.Create(inv,
                $"| {id} | {shared.Plan.Nodes.Count} | {shared.Plan.Nodes.Sum(n => n.Ladder.Count)} | {shared.Plan.Stats.SensitivitySessions} / {sharedTime:F2} s | {naive.Plan.Stats.SensitivitySessions} / {naiveTime:F2} s | {naiveTime / sharedTime:F2}× | {warmTime:F2} s (decompositions {warm.Plan.Stats.Decompositions}, evaluations {warm.Plan.Stats.ErrorEvaluations}) | {sharedTime / warmTime:F2}× | {same} |"));
            Directory.Delete(cache, recursive: true);
        }

        return 0;
    }

    public static int VersusAimet(string[] args)
    {
        var ids = args.Length > 0 ? args : DefaultIds;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine("| model | budget | ours: time | ours: FLOPs | ours: params | ours: error | AIMET: time (dictionary) | AIMET: FLOPs | AIMET: params | AIMET: error | AIMET: evaluations (run) | AIMET ÷ ours time | more compressed |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var id in ids)
        {
            var path = ModelPath(id);

            // JIT and ORT warm-up for both, outside the timings.
            BudgetPlanner.Run(OnnxModel.Load(path), Options(id, 0.02) with { LatencyGuard = false, CacheDirectory = null });
            AimetGreedyBaseline.Run(OnnxModel.Load(path), Options(id, 0.02), targetRatio: 0.5);
            foreach (var budget in new[] { 0.01, 0.02, 0.05 })
            {
                var options = Options(id, budget) with { LatencyGuard = false, CacheDirectory = null };
                var clock = Stopwatch.StartNew();
                var ours = BudgetPlanner.Run(OnnxModel.Load(path), options, svdCache: new SvdCache());
                var oursTime = clock.Elapsed.TotalSeconds;
                clock.Restart();
                var aimet = AimetGreedyBaseline.Run(OnnxModel.Load(path), options, svdCache: new SvdCache());
                var aimetTime = clock.Elapsed.TotalSeconds;

                // Both judged the same way: FLOPs of the whole model and the error, re-measured independently on the same inputs;
                // parameters of the candidate weights (ppocr keeps its weights in Constant nodes).
                var candidateParams = ours.Plan.Nodes.Sum(n => n.ParamsBefore);
                var (oursFlops, oursError) = Check(path, ours.Factorization.Model, options.Inputs, id);
                var (aimetFlops, aimetError) = Check(path, aimet.Factorization.Model, options.Inputs, id);
                var oursParams = Saved(ours.Factorization.Decisions, candidateParams);
                var aimetParams = Saved(aimet.Factorization.Decisions, candidateParams);
                var winner = Math.Abs(oursFlops - aimetFlops) < 0.05 ? "tie" : oursFlops > aimetFlops ? "ours" : "AIMET";
                Console.WriteLine(string.Create(inv,
                    $"| {id} | {budget:P0} | {oursTime:F2} s | −{oursFlops:F1} % | −{oursParams:F1} % | {oursError:G3} | {aimetTime:F2} s ({aimet.DictionarySeconds:F2} s) | −{aimetFlops:F1} % | −{aimetParams:F1} % | {aimetError:G3} | " +
                    $"{aimet.DictionaryEvaluations} + {aimet.FinalEvaluations} ({aimet.DictionaryEvaluationsRun} + {aimet.FinalEvaluations}) | {aimetTime / oursTime:F1}× | {winner} |"));
            }
        }

        return 0;
    }

    private static (double FlopsSaved, double Error) Check(string originalPath, OnnxModel compressed, InputOptions inputs, string id)
    {
        var outPath = Path.Combine(Path.GetTempPath(), $"onnxf-vs-aimet-{id}-{Guid.NewGuid():N}.onnx");
        compressed.Save(outPath);
        try
        {
            var check = ModelValidator.Compare(originalPath, outPath, new ValidationOptions { Inputs = inputs, Latency = null });
            return (100.0 * (check.Original.Flops - check.Optimized.Flops) / Math.Max(check.Original.Flops, 1), check.Outputs.Max(o => o.RelL2Error));
        }
        finally
        {
            File.Delete(outPath);
        }
    }

    private static double Saved(IEnumerable<Passes.FactorizationDecision> decisions, long total) =>
        100.0 * decisions.Sum(d => d.ParamsBefore - d.ParamsAfter) / Math.Max(total, 1);

    private static BudgetOptions Options(string id, double budget) => new()
    {
        MaxError = budget,
        Inputs = new InputOptions
        {
            RandomSamples = 8,
            Seed = 1,
            Dims = id.StartsWith("ppocr", StringComparison.Ordinal)
                ? new Dictionary<string, long> { ["x:0"] = 1, ["x:2"] = 48, ["x:3"] = 192 }
                : new Dictionary<string, long>(),
        },
    };

    private static (BudgetResult Result, double Seconds) Timed(Func<BudgetResult> run)
    {
        var clock = Stopwatch.StartNew();
        var result = run();
        return (result, clock.Elapsed.TotalSeconds);
    }

    private static string Ratio(long before, long after) =>
        string.Create(CultureInfo.InvariantCulture, $"{before:N0} → {after:N0} (−{100.0 * (before - after) / Math.Max(before, 1):F1} %)");

    private static string ModelPath(string id)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "OnnxFactorize.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        }

        using var manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root, "testmodels", "real-models.json")));
        var entry = manifest.RootElement.GetProperty("models").EnumerateArray().First(m => m.GetProperty("id").GetString() == id);
        var folder = $"{entry.GetProperty("npmPackage").GetString()!.TrimStart('@').Replace('/', '-')}-{entry.GetProperty("version").GetString()}";
        return Path.Combine(root, ".cache", "models", folder, entry.GetProperty("path").GetString()!);
    }
}
