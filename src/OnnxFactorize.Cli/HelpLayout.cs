using System.CommandLine;

namespace OnnxFactorize.Cli;

/// <summary>A command's options in titled sections (README's grouping) instead of one flat list, with every default
/// written the same way (<c>[default: x]</c>), including those an unset option means.</summary>
internal static class HelpLayout
{
    /// <summary>Heading of the section that takes every option no group names (help, --quiet, --verbose).</summary>
    public const string General = "General options";

    /// <summary>Appends each entry of <paramref name="defaults"/> to its option's description as <c>[default: x]</c>, the
    /// way the built-in help writes defaults of options that have a default value.</summary>
    public static void WriteDefaults(IReadOnlyDictionary<Option, string> defaults)
    {
        foreach (var (option, value) in defaults)
        {
            option.Description = $"{option.Description} [default: {value}]";
        }
    }

    /// <summary>Rewrites the built-in help's one "Options:" section of <paramref name="help"/> into the sections of
    /// <paramref name="groups"/>, keeping every row as the built-in help wrote it (so columns stay aligned); options no
    /// group names go last, under <see cref="General"/>.</summary>
    public static string Regroup(string help, IReadOnlyList<OptionGroup> groups)
    {
        var lines = help.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        var start = lines.IndexOf("Options:");
        if (start < 0)
        {
            return help;
        }

        var end = lines.FindIndex(start + 1, l => l.Trim().Length == 0);
        end = end < 0 ? lines.Count : end;

        // A row starts at two spaces then text; wrapped continuation lines are indented further.
        var rows = new List<List<string>>();
        foreach (var line in lines.Skip(start + 1).Take(end - start - 1))
        {
            if (line.Length > 2 && line.StartsWith("  ", StringComparison.Ordinal) && line[2] != ' ' || rows.Count == 0)
            {
                rows.Add([line]);
            }
            else
            {
                rows[^1].Add(line);
            }
        }

        var placed = new HashSet<List<string>>();
        var sections = new List<string>();
        foreach (var group in groups)
        {
            var members = group.Options.Distinct().Select(o => rows.FirstOrDefault(r => !placed.Contains(r) && Names(r[0]).Overlaps(o.Aliases.Prepend(o.Name))))
                .OfType<List<string>>()
                .ToList();
            if (members.Count == 0)
            {
                continue;
            }

            placed.UnionWith(members);
            sections.Add(group.Heading + ":\n" + string.Join("\n", members.SelectMany(r => r)));
        }

        var rest = rows.Where(r => !placed.Contains(r)).ToList();
        if (rest.Count > 0)
        {
            sections.Add(General + ":\n" + string.Join("\n", rest.SelectMany(r => r)));
        }

        return string.Join("\n", [.. lines.Take(start), string.Join("\n\n", sections), .. lines.Skip(end)]);
    }

    /// <summary>The option names in a row's first column, e.g. <c>-o, --output &lt;out.onnx&gt; (REQUIRED)</c>.</summary>
    private static HashSet<string> Names(string row)
    {
        var column = row.Trim().Split("  ", 2)[0];
        return column.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries).Where(t => t.StartsWith('-')).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The groups of optimize, analyze and compare, in the order README describes them.</summary>
    public static Dictionary<string, IReadOnlyList<OptionGroup>> Groups(CliOptions o) => new(StringComparer.Ordinal)
    {
        ["optimize"] =
        [
            new("Output options", [o.Output, o.ExternalData, o.Report, o.Html]),
            new("Factorization options (one rank policy of --energy, --rank, --rank-ratio, --compression)", [.. o.FactorizeSet, o.Dim]),
            new("Data-aware options (calibration data from --inputs)", [o.DataAware]),
            new("Budget options (one budget: ranks chosen by measuring in ONNX Runtime)", [o.MaxError, o.MaxAccuracyDrop, o.MinTop1Agreement, .. o.BudgetSet.Where(b => b != o.MaxError)]),
            new("Validation options (with --validate)", [o.Validate, .. o.ValidationSet]),
        ],
        ["analyze"] =
        [
            new("Output options", [o.AnalyzeReport]),
            new("Factorization options (one rank policy of --energy, --rank, --rank-ratio, --compression)", [.. o.FactorizeSet, o.Dim]),
        ],
        ["compare"] =
        [
            new("Output options", [o.Report, o.Html]),
            new("Validation options", [o.Seed, .. o.ValidationSet]),
        ],
    };

    /// <summary>What an option means when it is not given, for options whose type cannot carry it (nullable numbers, texts
    /// whose absence means something).</summary>
    public static Dictionary<Option, string> Defaults(CliOptions o) => new()
    {
        [o.Energy] = "0.99",
        [o.Op] = "Gemm,MatMul,Conv",
        [o.DataAware] = "none",
        [o.Inputs] = "seeded random inputs",
        [o.Samples] = "4",
        [o.Runs] = "20",
        [o.Threads] = "one node per core; ONNX Runtime's choice of intra-op threads",
        [o.Target] = "flops",
        [o.CalibrationSamples] = "4",
        [o.CacheDir] = "onnx-factorize in $XDG_CACHE_HOME, ~/.cache or %LOCALAPPDATA%",
    };
}

/// <summary>A titled section of a command's help: the heading and its options in order.</summary>
internal sealed record OptionGroup(string Heading, IReadOnlyList<Option> Options);
