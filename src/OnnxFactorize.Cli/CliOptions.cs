using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Cli;

/// <summary>Every option of the tool, and the mapping from parsed values to the engine's option records (validated once here,
/// at the edge, so a bad value fails before any work is done).</summary>
internal sealed class CliOptions
{
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "Print only errors and one summary line (for CI logs).", Recursive = true };

    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Print skip reasons and, on errors, the stack trace.", Recursive = true };

    public Option<string> Output { get; } = new("--output", "-o") { Description = "Path of the optimized model (its folder is created; must differ from the input).", Required = true, HelpName = "out.onnx" };

    public Option<string> Method { get; } = new("--method") { Description = "Comma list of methods: auto, svd, tucker2, spatial-svd, depthwise.", DefaultValueFactory = _ => "auto", HelpName = "list" };

    public Option<double?> Energy { get; } = new("--energy") { Description = "Rank policy: keep this fraction of each weight's energy, in (0, 1].", HelpName = "fraction" };

    public Option<int?> Rank { get; } = new("--rank") { Description = "Rank policy: the same rank for every node (>= 1).", HelpName = "n" };

    public Option<double?> RankRatio { get; } = new("--rank-ratio") { Description = "Rank policy: ceil(ratio * min(m, n)), ratio in (0, 1].", HelpName = "ratio" };

    public Option<double?> Compression { get; } = new("--compression") { Description = "Rank policy: factors hold at most this fraction of the weight's parameters, in (0, 1).", HelpName = "fraction" };

    public Option<int> RankMultiple { get; } = new("--rank-multiple") { Description = "Round ranks up to a multiple of n (never past break-even).", DefaultValueFactory = _ => 1, HelpName = "n" };

    public Option<string?> Op { get; } = new("--op") { Description = "Comma list of operator types to consider: Gemm, MatMul, Conv.", HelpName = "list" };

    public Option<string?> Only { get; } = new("--only") { Description = "Only nodes whose name matches this regular expression.", HelpName = "regex" };

    public Option<string?> Exclude { get; } = new("--exclude") { Description = "Leave nodes whose name matches this regular expression.", HelpName = "regex" };

    public Option<string> TuckerRanks { get; } = new("--tucker-ranks") { Description = "How Tucker-2 picks its two ranks: policy (the rank policy on each unfolding) or vbmf (variational Bayesian estimate, Kim et al. 2015).", DefaultValueFactory = _ => "policy", HelpName = "policy|vbmf" };

    public Option<bool> AllowOverridableWeights { get; } = new("--allow-overridable-weights") { Description = "Also factorize initializers that are listed as graph inputs." };

    public Option<string?> DataAware { get; } = new("--data-aware") { Description = "none, whiten or sequential: fit Gemm/MatMul/Conv factors to the data in --inputs (whitened SVD on the inputs' statistics, bias corrected) instead of to the weights alone; sequential goes node group by group, refitting each last factor to the original model's outputs on the inputs of the model compressed so far.", HelpName = "none|whiten|sequential" };

    public Option<bool> ExternalData { get; } = new("--external-data") { Description = "Store large tensors in a .data file next to the output model." };

    public Option<bool> Validate { get; } = new("--validate") { Description = "After optimizing, compare both models in ONNX Runtime and check thresholds." };

    public Option<string?> Inputs { get; } = new("--inputs") { Description = "A .pb/.npy file or folder of validation inputs.", HelpName = "file|dir" };

    public Option<string?> Labels { get; } = new("--labels") { Description = "int64 labels (.npy/.pb) for classification accuracy.", HelpName = "file" };

    public Option<string[]> Dim { get; } = new("--dim") { Description = "Bind a symbolic dim, e.g. --dim batch=1 (repeatable).", HelpName = "name=value", Arity = ArgumentArity.ZeroOrMore };

    public Option<int?> Samples { get; } = new("--samples") { Description = "Seeded random validation samples without --inputs; with a budget at least --calibration-samples, with a different seed.", HelpName = "n" };

    public Option<string[]> InputValue { get; } = new("--input-value") { Description = "Fixed value of a generated input, e.g. --input-value sample_rate=16000 (repeatable).", HelpName = "name=value", Arity = ArgumentArity.ZeroOrMore };

    public Option<string[]> InputRange { get; } = new("--input-range") { Description = "Range of a generated integer input, max exclusive, e.g. --input-range input_ids=0:30522 (repeatable).", HelpName = "name=min:max", Arity = ArgumentArity.ZeroOrMore };

    public Option<string> Task { get; } = new("--task") { Description = "How outputs are read for top-1 agreement: auto (only [N, classes] outputs), classify (rows along the last axis of every output: per-pixel/per-token agreement), other (none).", DefaultValueFactory = _ => "auto", HelpName = "auto|classify|other" };

    public Option<bool> NoDefaultThresholds { get; } = new("--no-default-thresholds") { Description = "Do not apply the default thresholds (rel. L2 <= 0.05, cosine >= 0.995, top-1 agreement >= 0.95 on class scores) when no accuracy threshold is given; the result then says nothing was checked." };

    public Option<int?> Runs { get; } = new("--runs") { Description = "Timed latency runs per model.", HelpName = "n" };

    public Option<int?> Threads { get; } = new("--threads") { Description = "Threads: nodes decomposed at once, and ONNX Runtime intra-op threads when validating; the written model is the same for any n.", HelpName = "n" };

    public Option<double?> MaxRelError { get; } = new("--max-rel-error") { Description = "Fail when any output's relative L2 error exceeds this.", HelpName = "x" };

    public Option<double?> MaxAbsError { get; } = new("--max-abs-error") { Description = "Fail when any output's max absolute error exceeds this.", HelpName = "x" };

    public Option<double?> MinCosine { get; } = new("--min-cosine") { Description = "Fail when any output's cosine similarity is below this.", HelpName = "x" };

    public Option<double?> MinTop1Agreement { get; } = new("--min-top1-agreement") { Description = "Fail when top-1 agreement (0..1) is below this.", HelpName = "x" };

    public Option<double?> MaxAccuracyDrop { get; } = new("--max-accuracy-drop") { Description = "Fail when accuracy drops by more percentage points (needs --labels).", HelpName = "points" };

    public Option<double?> MinSpeedup { get; } = new("--min-speedup") { Description = "Fail when optimized latency speedup is below this (1.0 = no slower).", HelpName = "x" };

    public Option<string?> Report { get; } = new("--report") { Description = "Write the report (decisions per node, plan, validation) as JSON; on optimize also without --validate.", HelpName = "file.json" };

    public Option<string?> Html { get; } = new("--html") { Description = "Write the validation report as HTML.", HelpName = "file.html" };

    public Option<double?> MaxError { get; } = new("--max-error") { Description = "Budget: choose ranks automatically so the outputs' relative L2 error stays within this, measured in ONNX Runtime on calibration inputs.", HelpName = "x" };

    public Option<string?> Target { get; } = new("--target") { Description = "With a budget: what to reduce: flops, params or latency.", HelpName = "flops|params|latency" };

    public Option<int?> CalibrationSamples { get; } = new("--calibration-samples") { Description = "With a budget and no --inputs: how many seeded random samples to measure on.", HelpName = "n" };

    public Option<string?> CacheDir { get; } = new("--cache-dir") { Description = "With a budget: where decompositions and measured sensitivities are cached; with --data-aware: calibration statistics.", HelpName = "dir" };

    public Option<bool> NoCache { get; } = new("--no-cache") { Description = "With a budget or --data-aware: neither read nor write the cache." };

    public Option<bool> NoLatencyGuard { get; } = new("--no-latency-guard") { Description = "With a budget: keep factorizations even where the factorized node measures slower than the original." };

    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the randomized SVD and the generated inputs.", DefaultValueFactory = _ => 0, HelpName = "n" };

    public Option<string?> Json { get; } = new("--json") { Description = "Deprecated spelling of analyze --report.", HelpName = "file", Hidden = true };

    /// <summary>analyze's --report: the same name as on optimize and compare, for the analysis as JSON.</summary>
    public Option<string?> AnalyzeReport { get; } = new("--report") { Description = "Write the analysis (per node: spectrum, suggested rank, savings) as JSON.", HelpName = "file.json" };

    /// <summary>The options that pick a rank policy; at most one may be given.</summary>
    private IEnumerable<Option> PolicyOptions => [Energy, Rank, RankRatio, Compression];

    public IEnumerable<Option> FactorizeSet => [.. PolicyOptions, Method, TuckerRanks, RankMultiple, Op, Only, Exclude, AllowOverridableWeights, Seed];

    /// <summary>Options of budget mode on optimize (besides the budget itself).</summary>
    public IEnumerable<Option> BudgetSet => [MaxError, Target, CalibrationSamples, CacheDir, NoCache, NoLatencyGuard];

    public IEnumerable<Option> ValidationSet => [Inputs, Labels, Dim, Samples, InputValue, InputRange, Task, NoDefaultThresholds, Runs, Threads, MaxRelError, MaxAbsError, MinCosine, MinTop1Agreement, MaxAccuracyDrop, MinSpeedup, Report, Html];

    /// <summary>Builds and validates the factorization options; throws <see cref="OnnxFactorizeException"/> naming the bad value.</summary>
    public FactorizeOptions ToFactorizeOptions(ParseResult result)
    {
        var given = PolicyOptions.Where(o => result.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        if (given.Count > 1)
        {
            throw new OnnxFactorizeException($"{string.Join(" and ", given)} conflict: give at most one rank policy (--energy, --rank, --rank-ratio or --compression).");
        }

        var policy = result.GetValue(Rank) is { } rank ? RankPolicy.Fixed(rank)
            : result.GetValue(RankRatio) is { } ratio ? RankPolicy.Ratio(ratio)
            : result.GetValue(Compression) is { } compression ? RankPolicy.Compression(compression)
            : RankPolicy.Energy(result.GetValue(Energy) ?? 0.99);
        var options = new FactorizeOptions
        {
            RankPolicy = policy,
            RankMultiple = result.GetValue(RankMultiple),
            MaxParallelNodes = result.GetValue(Threads) ?? -1,
            Methods = SplitList(result.GetValue(Method) ?? "auto"),
            Ops = result.GetValue(Op) is { } ops ? SplitList(ops) : FactorizeOptions.AllOps,
            Only = ToRegex(result.GetValue(Only), "--only"),
            Exclude = ToRegex(result.GetValue(Exclude), "--exclude"),
            AllowOverridableWeights = result.GetValue(AllowOverridableWeights),
            TuckerRanks = (result.GetValue(TuckerRanks) ?? "policy") switch
            {
                "policy" => TuckerRankEstimate.Policy,
                "vbmf" => TuckerRankEstimate.Vbmf,
                var other => throw new OnnxFactorizeException($"--tucker-ranks '{other}' is unknown; use policy or vbmf."),
            },
            Svd = new SvdOptions { Seed = result.GetValue(Seed) },
        };
        return options.Validate();
    }

    /// <summary>Builds and validates the validation options (inputs, dims, latency, thresholds).</summary>
    public ValidationOptions ToValidationOptions(ParseResult result)
    {
        var latency = new LatencyOptions();
        if (result.GetValue(Runs) is { } runs)
        {
            latency = latency with { Runs = runs };
        }

        if (result.GetValue(Threads) is { } threads)
        {
            latency = latency with { IntraOpThreads = threads };
        }

        var options = new ValidationOptions
        {
            Inputs = new InputOptions
            {
                Path = result.GetValue(Inputs),
                LabelsPath = result.GetValue(Labels),
                Dims = InputOptions.ParseDims(result.GetValue(Dim) ?? []),
                Seed = result.GetValue(Seed),
                RandomSamples = result.GetValue(Samples) ?? new InputOptions().RandomSamples,
                Values = InputOptions.ParseValues(result.GetValue(InputValue) ?? []),
                IntRanges = InputOptions.ParseRanges(result.GetValue(InputRange) ?? []),
            },
            Latency = latency,
            DefaultThresholds = !result.GetValue(NoDefaultThresholds),
            Task = (result.GetValue(Task) ?? "auto") switch
            {
                "auto" => OutputTask.Auto,
                "classify" => OutputTask.Classify,
                "other" => OutputTask.Other,
                var other => throw new OnnxFactorizeException($"--task '{other}' is unknown; use auto, classify or other."),
            },
            Thresholds = new ValidationThresholds
            {
                MaxRelL2Error = result.GetValue(MaxRelError),
                MaxAbsError = result.GetValue(MaxAbsError),
                MinCosine = result.GetValue(MinCosine),
                MinTop1Agreement = result.GetValue(MinTop1Agreement),
                MaxAccuracyDrop = result.GetValue(MaxAccuracyDrop),
                MinSpeedup = result.GetValue(MinSpeedup),
            },
        };
        options.Validate();
        return options;
    }

    /// <summary>Whether any validation-only option was given (they need --validate on optimize). --dim also serves shape
    /// measurement; --report is written with or without a validation; --max-accuracy-drop and --min-top1-agreement are budgets on optimize; inputs and labels also feed a
    /// budget's calibration.</summary>
    public string? FirstValidationOptionGiven(ParseResult result, bool budgetMode, bool dataAware = false)
    {
        Option[] alsoBudget = [Inputs, Labels, InputValue, InputRange];
        return ValidationSet
            .Where(o => o != Dim && o != Threads && o != Report && o != MaxAccuracyDrop && o != MinTop1Agreement && !(budgetMode && alsoBudget.Contains(o)) && !(dataAware && o == Inputs))
            .FirstOrDefault(o => result.GetResult(o) is { Implicit: false })?.Name;
    }

    /// <summary>Budget mode of optimize: one of --max-error, --max-accuracy-drop, --min-top1-agreement chooses the ranks by
    /// measurement; null when none is given. A rank policy conflicts with a budget.</summary>
    public BudgetOptions? ToBudgetOptions(ParseResult result, FactorizeOptions factorize)
    {
        var budgets = new Option[] { MaxError, MaxAccuracyDrop, MinTop1Agreement }.Where(o => Given(result, o)).Select(o => o.Name).ToList();
        if (budgets.Count == 0)
        {
            // Data-aware runs cache their calibration statistics where a budget caches its decompositions.
            var dataAware = factorize.DataAware != DataAwareMode.None;
            if (BudgetSet.FirstOrDefault(o => Given(result, o) && !(dataAware && (o == CacheDir || o == NoCache))) is { } orphan)
            {
                throw new OnnxFactorizeException($"{orphan.Name} only applies with a budget; add --max-error, --max-accuracy-drop or --min-top1-agreement, or drop {orphan.Name}.");
            }

            return null;
        }

        if (budgets.Count > 1)
        {
            throw new OnnxFactorizeException($"{string.Join(" and ", budgets)} conflict: give one budget.");
        }

        if (PolicyOptions.FirstOrDefault(o => o != Energy && Given(result, o)) is { } policy)
        {
            throw new OnnxFactorizeException($"{policy.Name} conflicts with {budgets[0]}: a budget chooses every rank by measurement (--energy may set the top of its energy ladder); drop {policy.Name}.");
        }

        // With --energy, the energy ladder stops there (the cost-fraction and break-even rungs remain).
        var energies = result.GetValue(Energy) is { } cap && cap < 1
            ? [.. BudgetOptions.DefaultEnergies.Where(e => e < cap), cap]
            : BudgetOptions.DefaultEnergies;

        var options = new BudgetOptions
        {
            MaxError = result.GetValue(MaxError),
            MaxAccuracyDrop = result.GetValue(MaxAccuracyDrop),
            MinTop1Agreement = result.GetValue(MinTop1Agreement),
            Target = result.GetValue(Target) is { } target ? BudgetOptions.ParseTarget(target) : PlanTarget.Flops,
            Factorize = factorize,
            Energies = energies,
            Inputs = new InputOptions
            {
                Path = result.GetValue(Inputs),
                LabelsPath = result.GetValue(Labels),
                Dims = InputOptions.ParseDims(result.GetValue(Dim) ?? []),
                Seed = result.GetValue(Seed),
                RandomSamples = result.GetValue(CalibrationSamples) ?? 4,
                Values = InputOptions.ParseValues(result.GetValue(InputValue) ?? []),
                IntRanges = InputOptions.ParseRanges(result.GetValue(InputRange) ?? []),
            },
            LatencyGuard = !result.GetValue(NoLatencyGuard),
            CacheDirectory = result.GetValue(NoCache) ? null : result.GetValue(CacheDir) ?? CacheLocation.Default,
        };
        return options.Validate();
    }

    /// <summary>Where data-aware runs cache calibration statistics: --cache-dir, else the user cache folder; null with --no-cache.</summary>
    public string? CalibrationCacheDirectory(ParseResult result) => result.GetValue(NoCache) ? null : result.GetValue(CacheDir) ?? CacheLocation.Default;

    /// <summary>The --data-aware mode (none when not given); the rule that it needs --inputs lives in OptimizeRequest.Validate.</summary>
    public DataAwareMode ToDataAware(ParseResult result) => result.GetValue(DataAware) switch
    {
        null or "none" => DataAwareMode.None,
        "whiten" => DataAwareMode.Whiten,
        "sequential" => DataAwareMode.Sequential,
        var other => throw new OnnxFactorizeException($"--data-aware '{other}' is unknown; use none, whiten or sequential."),
    };

    private static bool Given(ParseResult result, Option option) => result.GetResult(option) is { Implicit: false };

    /// <summary>The --dim bindings, also used without --validate to measure shapes for FLOP counts.</summary>
    public IReadOnlyDictionary<string, long> Dims(ParseResult result) => InputOptions.ParseDims(result.GetValue(Dim) ?? []);

    private static string[] SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static Regex? ToRegex(string? pattern, string option)
    {
        if (pattern is null)
        {
            return null;
        }

        try
        {
            // Linear-time matching, so no pattern (e.g. '^(a+)+$') can backtrack catastrophically; patterns it cannot run
            // (backreferences, lookarounds) fall back to the backtracking engine with a time bound.
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, RegexTimeout);
        }
        catch (NotSupportedException)
        {
            return ToBacktrackingRegex(pattern, option);
        }
        catch (ArgumentException e)
        {
            throw new OnnxFactorizeException(string.Create(CultureInfo.InvariantCulture, $"{option} '{pattern}' is not a valid regular expression ({e.Message.Split('\n')[0].Trim()})."));
        }
    }

    /// <summary>Longest a --only/--exclude match may take on one node name; beyond it the run stops with exit 2.</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(1);

    private static Regex ToBacktrackingRegex(string pattern, string option)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException e)
        {
            throw new OnnxFactorizeException(string.Create(CultureInfo.InvariantCulture, $"{option} '{pattern}' is not a valid regular expression ({e.Message.Split('\n')[0].Trim()})."));
        }
    }
}
