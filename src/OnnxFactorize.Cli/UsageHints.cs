using System.CommandLine;

namespace OnnxFactorize.Cli;

/// <summary>One-line errors for the command lines people type out of other tools' habits: dotnet's <c>-v &lt;level&gt;</c>,
/// onnxsim's <c>optimize in.onnx out.onnx</c>, a misspelt command or option (did-you-mean by edit distance).</summary>
internal static class UsageHints
{
    /// <summary>dotnet's verbosity words (<c>dotnet build -v q</c>) and what each means here.</summary>
    private static readonly Dictionary<string, string> VerbosityWords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["q"] = Less, ["quiet"] = Less,
        ["m"] = Normal, ["minimal"] = Normal, ["n"] = Normal, ["normal"] = Normal,
        ["d"] = More, ["detailed"] = More, ["diag"] = More, ["diagnostic"] = More,
    };

    private const string Less = "for less output use -q (--quiet)";
    private const string Normal = "normal output is the default, so drop it";
    private const string More = "for skip reasons and stack traces use -v alone";

    /// <summary>The one-line error for a command line that fits a known habit, or null. Verbosity levels are checked on every
    /// command line (a level after -v may parse as a model path); the others only explain a line that failed to parse.</summary>
    public static string? Check(IReadOnlyList<string> args, ParseResult parsed, CliOptions options)
    {
        if (VerbosityLevel(args) is { } level)
        {
            return level;
        }

        if (parsed.Errors.Count == 0)
        {
            return null;
        }

        var command = parsed.CommandResult.Command;
        var unmatched = parsed.UnmatchedTokens;
        if (command is RootCommand)
        {
            var word = args.FirstOrDefault(a => !a.StartsWith('-'));
            if (word is not null)
            {
                var names = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToList();
                return Closest(word, names, commands: true) is { } near
                    ? $"error: unknown command '{word}'; did you mean '{near}'? See 'onnx-factorize --help'."
                    : $"error: unknown command '{word}'; the commands are {string.Join(", ", names)}. See 'onnx-factorize --help'.";
            }
        }

        var usage = command is RootCommand ? "onnx-factorize --help" : $"onnx-factorize {command.Name} --help";
        if (command.Name == "optimize" && parsed.GetResult(options.Output) is not { IdentifierTokenCount: > 0 } && unmatched.Count(t => !t.StartsWith('-')) == 1)
        {
            // onnxsim's habit: `onnxsim in.onnx out.onnx`.
            var output = unmatched.Single(t => !t.StartsWith('-'));
            return $"error: optimize takes one model and writes where -o says; did you mean -o {output}? See '{usage}'.";
        }

        var option = unmatched.FirstOrDefault(t => t.StartsWith('-'));
        if (option is not null)
        {
            var names = command.Options.Concat(command.Parents.OfType<Command>().SelectMany(p => p.Options).Where(o => o.Recursive))
                .Where(o => !o.Hidden)
                .SelectMany(o => o.Aliases.Prepend(o.Name))
                .Where(n => n.StartsWith("--", StringComparison.Ordinal))
                .Distinct()
                .ToList();
            var name = option.Split('=', ':')[0];
            if (Closest(name, names, commands: false) is { } near)
            {
                return $"error: unknown option '{name}'; did you mean '{near}'? See '{usage}'.";
            }
        }

        return null;
    }

    /// <summary>The deprecation note for analyze's old <c>--json</c> spelling, or null when it was not used.</summary>
    public static string? Deprecated(ParseResult parsed, CliOptions options) =>
        parsed.GetResult(options.Json) is { Implicit: false } && parsed.GetResult(options.AnalyzeReport) is not { Implicit: false }
            ? "note: analyze --json is deprecated and will be removed; use --report <file.json> (the same JSON, the same name as on optimize and compare)."
            : null;

    private static string? VerbosityLevel(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                return null;
            }

            // dotnet also accepts -v:q, -v=q, --verbosity q and --verbosity:q.
            string? level = null;
            var flag = arg;
            if (arg is "-v" or "--verbose" or "--verbosity" && i + 1 < args.Count && VerbosityWords.ContainsKey(args[i + 1]))
            {
                level = args[i + 1];
            }
            else if (arg.Split(':', '=') is [var f and ("-v" or "--verbose" or "--verbosity"), var value] && VerbosityWords.ContainsKey(value))
            {
                (flag, level) = (f, value);
            }
            else if (arg == "--verbosity")
            {
                return "error: there is no --verbosity; -v (--verbose) is a flag and takes no level. See 'onnx-factorize --help'.";
            }

            if (level is not null)
            {
                return $"error: '{flag} {level}' is dotnet's verbosity habit; here -v (--verbose) is a flag and takes no level: {VerbosityWords[level]}. See 'onnx-factorize --help'.";
            }
        }

        return null;
    }

    /// <summary>The candidate nearest to <paramref name="word"/> (optimal string alignment distance: a swap counts once),
    /// when near enough to be a typo; for commands also a prefix of at least 3 letters.</summary>
    private static string? Closest(string word, IReadOnlyList<string> candidates, bool commands)
    {
        var lower = word.ToLowerInvariant();
        var best = candidates
            .Select(c => (Name: c, Distance: Distance(lower, c)))
            .OrderBy(c => c.Distance)
            .FirstOrDefault();
        var core = commands ? lower.Length : lower.TrimStart('-').Length;
        var limit = Math.Max(1, Math.Min(3, core / 3));
        if (best.Name is not null && best.Distance <= limit)
        {
            return best.Name;
        }

        return commands && lower.Length >= 3 ? candidates.FirstOrDefault(c => c.StartsWith(lower, StringComparison.Ordinal)) : null;
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
