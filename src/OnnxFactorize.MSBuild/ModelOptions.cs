using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OnnxFactorize.MSBuild;

/// <summary>The options of one <c>OnnxFactorize</c> item, read from its metadata, checked once, and turned into the
/// command line of <c>onnx-factorize optimize</c> and into a hash that says when the model must be factorized again.</summary>
internal sealed class ModelOptions
{
    /// <summary>Every metadata name the task reads, with the tool's flag and the kind of value it takes.</summary>
    internal static readonly IReadOnlyList<OptionSpec> Specs =
    [
        new("Method", "--method", OptionKind.Text),
        new("TuckerRanks", "--tucker-ranks", OptionKind.Text),
        new("Energy", "--energy", OptionKind.Number),
        new("Rank", "--rank", OptionKind.Integer),
        new("RankRatio", "--rank-ratio", OptionKind.Number),
        new("Compression", "--compression", OptionKind.Number),
        new("RankMultiple", "--rank-multiple", OptionKind.Integer),
        new("Ops", "--op", OptionKind.Text),
        new("Only", "--only", OptionKind.Text),
        new("Exclude", "--exclude", OptionKind.Text),
        new("AllowOverridableWeights", "--allow-overridable-weights", OptionKind.Flag),
        new("ExternalData", "--external-data", OptionKind.Flag),
        new("DataAware", "--data-aware", OptionKind.Text),
        new("Seed", "--seed", OptionKind.Integer),
        new("Dims", "--dim", OptionKind.Dims),
        new("Inputs", "--inputs", OptionKind.Path, Validation: true),
        new("Labels", "--labels", OptionKind.Path, Validation: true),
        new("Runs", "--runs", OptionKind.Integer, Validation: true),
        new("Threads", "--threads", OptionKind.Integer, Validation: true),
        new("MaxRelError", "--max-rel-error", OptionKind.Number, Validation: true),
        new("MaxAbsError", "--max-abs-error", OptionKind.Number, Validation: true),
        new("MinCosine", "--min-cosine", OptionKind.Number, Validation: true),
        new("MaxError", "--max-error", OptionKind.Number),
        new("MinTop1Agreement", "--min-top1-agreement", OptionKind.Number),
        new("MaxAccuracyDrop", "--max-accuracy-drop", OptionKind.Number),
        new("Target", "--target", OptionKind.Text),
        new("CalibrationSamples", "--calibration-samples", OptionKind.Integer),
        new("CacheDir", "--cache-dir", OptionKind.Path),
        new("MinSpeedup", "--min-speedup", OptionKind.Number, Validation: true),
        new("Report", "--report", OptionKind.Path, Validation: false),
        new("Html", "--html", OptionKind.Path, Validation: true),
    ];

    private static readonly string[] PolicyNames = ["Energy", "Rank", "RankRatio", "Compression"];

    /// <summary>Budgets: the tool then chooses every rank by measurement (and validation checks the same limit).</summary>
    private static readonly string[] BudgetNames = ["MaxError", "MaxAccuracyDrop", "MinTop1Agreement"];

    /// <summary>Metadata that only mean something with a budget.</summary>
    private static readonly string[] BudgetOnlyNames = ["Target", "CalibrationSamples", "CacheDir"];

    /// <summary>Validation metadata that a budget also uses (its calibration inputs).</summary>
    private static readonly string[] CalibrationNames = ["Inputs", "Labels"];

    private readonly List<(OptionSpec Spec, string Value)> _given;

    private ModelOptions(List<(OptionSpec Spec, string Value)> given, bool validate, string? outputPath)
    {
        _given = given;
        Validate = validate;
        OutputPath = outputPath;
    }

    /// <summary>Whether the tool compares the factorized model with the original in ONNX Runtime (default true).</summary>
    public bool Validate { get; }

    /// <summary>The <c>OutputPath</c> metadata as written (null when not given).</summary>
    public string? OutputPath { get; }

    /// <summary>Whether a budget (MaxError, MaxAccuracyDrop or MinTop1Agreement) chooses the ranks.</summary>
    public bool HasBudget => BudgetNames.Any(b => Value(b) is not null);

    /// <summary>The JSON report path the user asked for (full path), or null.</summary>
    public string? Report => Value("Report");

    /// <summary>Whether the model is written with its large tensors in a <c>.data</c> file next to it.</summary>
    public bool ExternalData => Value("ExternalData") is not null;

    /// <summary>Files the result depends on besides the model (validation inputs and labels, when they are files).</summary>
    public IEnumerable<string> DependencyFiles =>
        new[] { Value("Inputs"), Value("Labels") }.OfType<string>().Where(File.Exists);

    /// <summary>Reads and checks the options from <paramref name="metadata"/> (metadata name → value, "" when absent);
    /// relative paths are taken from <paramref name="projectDirectory"/>. Throws <see cref="ArgumentException"/> whose
    /// message names the metadata and the bad value.</summary>
    public static ModelOptions Parse(Func<string, string> metadata, string projectDirectory)
    {
        var given = new List<(OptionSpec, string)>();
        foreach (var spec in Specs)
        {
            var raw = metadata(spec.Name).Trim();
            if (raw.Length == 0)
            {
                continue;
            }

            var value = spec.Kind switch
            {
                OptionKind.Number => ParseNumber(spec.Name, raw),
                OptionKind.Integer => ParseInteger(spec.Name, raw),
                OptionKind.Flag => ParseBool(spec.Name, raw) ? "true" : null,
                OptionKind.Path => Path.GetFullPath(Path.Combine(projectDirectory, raw)),
                OptionKind.Dims => string.Join(";", SplitDims(raw)),
                _ => raw,
            };
            if (value is not null)
            {
                given.Add((spec, value));
            }
        }

        var policies = PolicyNames.Where(p => given.Any(g => g.Item1.Name == p)).ToList();
        if (policies.Count > 1)
        {
            throw new ArgumentException($"{string.Join(" and ", policies)} conflict: give at most one rank policy (Energy, Rank, RankRatio or Compression).");
        }

        var budgets = BudgetNames.Where(b => given.Any(g => g.Item1.Name == b)).ToList();
        if (budgets.Count > 1)
        {
            throw new ArgumentException($"{string.Join(" and ", budgets)} conflict: give one budget (MaxError, MaxAccuracyDrop or MinTop1Agreement).");
        }

        if (budgets.Count == 1 && policies.Count == 1 && policies[0] != "Energy")
        {
            throw new ArgumentException($"{policies[0]} conflicts with {budgets[0]}: a budget chooses every rank by measurement (Energy may set the top of its energy ladder); drop {policies[0]}.");
        }

        var withStatistics = given.Any(g => g.Item1.Name == "DataAware" && g.Item2 != "none");
        if (budgets.Count == 0 && BudgetOnlyNames.FirstOrDefault(b => given.Any(g => g.Item1.Name == b) && !(withStatistics && b == "CacheDir")) is { } orphan)
        {
            throw new ArgumentException($"{orphan} only applies with a budget; add MaxError, MaxAccuracyDrop or MinTop1Agreement, or drop {orphan}.");
        }

        var validateText = metadata("Validate").Trim();
        var validate = validateText.Length == 0 || ParseBool("Validate", validateText);
        // DataAware reads Inputs as its calibration data, with or without a validation.
        var dataAware = given.Any(g => g.Item1.Name == "DataAware" && g.Item2 != "none");
        if (!validate && given.FirstOrDefault(g => g.Item1.Validation && !(budgets.Count == 1 && CalibrationNames.Contains(g.Item1.Name)) && !(dataAware && g.Item1.Name == "Inputs")) is { Item1: { } needsValidation })
        {
            throw new ArgumentException($"{needsValidation.Name} only applies when the model is validated; remove Validate=\"false\" or drop {needsValidation.Name}.");
        }

        var outputPath = metadata("OutputPath").Trim();
        return new ModelOptions(given, validate, outputPath.Length == 0 ? null : outputPath);
    }

    /// <summary>The arguments after the tool's dll: <c>optimize model -o output [options] [--validate …] --report json</c>.
    /// <paramref name="reportPath"/> is where the JSON report goes when the user gave none (the task reads it).</summary>
    public IReadOnlyList<string> ToArguments(string modelPath, string outputFile, string reportPath, string? cacheDirectory = null)
    {
        var args = new List<string> { "optimize", modelPath, "--output", outputFile };
        if ((HasBudget || Value("DataAware") is { } mode && mode != "none") && Value("CacheDir") is null && !string.IsNullOrEmpty(cacheDirectory))
        {
            // The planner's (and the data-aware statistics') cache lives in obj/, never in the project's source tree.
            args.Add("--cache-dir");
            args.Add(cacheDirectory);
        }

        foreach (var (spec, value) in _given)
        {
            switch (spec.Kind)
            {
                case OptionKind.Flag:
                    args.Add(spec.Flag);
                    break;
                case OptionKind.Dims:
                    foreach (var dim in value.Split(';'))
                    {
                        args.Add(spec.Flag);
                        args.Add(dim);
                    }

                    break;
                default:
                    args.Add(spec.Flag);
                    args.Add(value);
                    break;
            }
        }

        // A build item like <OnnxFactorize Include="Models/*.onnx" /> must not fail on a symbolic batch dim: every dim the
        // Dims metadata does not name is bound to 1 (the tool says so), as ONNX Runtime's perf tool does.
        if (!_given.Any(g => g.Spec.Kind == OptionKind.Dims && g.Value.Split(';').Any(d => d.TrimStart().StartsWith("*=", StringComparison.Ordinal))))
        {
            args.Add("--dim");
            args.Add("*=1");
        }

        if (Validate)
        {
            args.Add("--validate");
        }

        // The task reads what happened from the engine's JSON report, never from console text.
        if (Report is null)
        {
            args.Add("--report");
            args.Add(reportPath);
        }

        return args;
    }

    /// <summary>One line per option that decides the result, in a fixed order: what the stamp file holds.</summary>
    public string CanonicalText(string outputFile, string toolVersion)
    {
        var text = new StringBuilder();
        foreach (var (spec, value) in _given.OrderBy(g => g.Spec.Name, StringComparer.Ordinal))
        {
            text.Append(spec.Name).Append('=').Append(value).Append('\n');
        }

        text.Append("Validate=").Append(Validate ? "true" : "false").Append('\n');
        text.Append("Output=").Append(outputFile).Append('\n');
        text.Append("Tool=").Append(toolVersion).Append('\n');
        return text.ToString();
    }

    /// <summary>SHA-256 of <see cref="CanonicalText"/>, 16 hex digits: changes whenever an option that decides the result changes.</summary>
    public string Hash(string outputFile, string toolVersion) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalText(outputFile, toolVersion))))[..16];

    /// <summary>The metadata value as passed to the tool (full path for paths), or null when not given.</summary>
    public string? Value(string name) => _given.FirstOrDefault(g => g.Spec.Name == name).Value;

    /// <summary>The metadata name of a threshold the report calls <paramref name="reportName"/> (e.g. maxRelL2Error → MaxRelError).</summary>
    public static string ThresholdMetadata(string reportName) => reportName switch
    {
        "maxRelL2Error" => "MaxRelError",
        "maxAbsError" => "MaxAbsError",
        "minCosine" => "MinCosine",
        "minTop1Agreement" => "MinTop1Agreement",
        "maxAccuracyDrop" => "MaxAccuracyDrop",
        "minSpeedup" => "MinSpeedup",
        _ => reportName,
    };

    private static IEnumerable<string> SplitDims(string raw)
    {
        foreach (var binding in raw.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = binding.LastIndexOf('=');
            if (eq <= 0 || !long.TryParse(binding.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size <= 0)
            {
                throw new ArgumentException($"Dims '{raw}': '{binding}' is not name=value with a positive integer value (e.g. Dims=\"batch=1;seq=128\").");
            }

            yield return string.Create(CultureInfo.InvariantCulture, $"{binding[..eq].Trim()}={size}");
        }
    }

    private static string ParseNumber(string name, string raw) =>
        double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
            ? raw
            : throw new ArgumentException($"{name} '{raw}' is not a number (use a dot for decimals, e.g. {name}=\"0.99\").");

    private static string ParseInteger(string name, string raw) =>
        int.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value.ToString(CultureInfo.InvariantCulture)
            : throw new ArgumentException($"{name} '{raw}' is not a whole number.");

    private static bool ParseBool(string name, string raw) =>
        bool.TryParse(raw, out var value) ? value : throw new ArgumentException($"{name} '{raw}' is not true or false.");
}

/// <summary>How a metadata value is checked and passed.</summary>
internal enum OptionKind
{
    Text,
    Number,
    Integer,
    Flag,
    Path,
    Dims,
}

/// <summary>One item metadata and the tool flag it becomes; <paramref name="Validation"/> options need validation to run.</summary>
internal sealed record OptionSpec(string Name, string Flag, OptionKind Kind, bool Validation = false);
