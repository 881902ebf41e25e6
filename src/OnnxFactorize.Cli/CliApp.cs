using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace OnnxFactorize.Cli;

/// <summary>The command line: parses strictly, runs one command, and turns every failure into an exit code and one line.</summary>
internal static class CliApp
{
    /// <summary>The exit-code contract as printed after every help text.</summary>
    public const string ExitCodeHelp =
        "Exit codes: 0 success; 1 validation ran and a threshold failed; 2 bad usage or bad input (unknown or conflicting option, " +
        "bad value, unreadable model, unbound dim, unwritable output); 3 internal error (rerun with --verbose); 130 cancelled.";

    /// <summary>Runs the tool with <paramref name="args"/>; returns the process exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool plain, CancellationToken cancellationToken)
    {
        var options = new CliOptions();
        var root = BuildRoot(options);
        var parsed = root.Parse(args);
        var verbose = parsed.GetValue(options.Verbose);
        if (parsed.Action is ExitCodesHelpAction)
        {
            // --help wins over other errors on the line (e.g. a required option not given yet).
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        }

        if (UsageHints.Check(args, parsed, options) is { } hint)
        {
            stderr.WriteLine(hint);
            return ExitCodes.BadInput;
        }

        if (parsed.Errors.Count > 0)
        {
            var command = parsed.CommandResult.Command;
            var usage = command is RootCommand ? "onnx-factorize --help" : $"onnx-factorize {command.Name} --help";
            stderr.WriteLine($"error: {parsed.Errors[0].Message.TrimEnd('.')}. See '{usage}'.");
            return ExitCodes.BadInput;
        }

        if (parsed.Action is not null)
        {
            // --help or --version: the commands themselves have no action, so only built-in ones land here.
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        }

        var output = new CliOutput(stdout, plain, parsed.GetValue(options.Quiet), verbose);
        try
        {
            // ONNX Runtime's own log lines would break the one-line error rule; with --verbose its warnings are shown.
            Runtime.OrtLog.Configure(verbose ? line => stderr.WriteLine(line) : null);
            var code = parsed.CommandResult.Command.Name switch
            {
                "optimize" => OptimizeCommand.Run(parsed, options, output, cancellationToken),
                "analyze" => AnalyzeCommand.Run(parsed, options, output, cancellationToken),
                "compare" => CompareCommand.Run(parsed, options, output, cancellationToken),
                _ => throw new InvalidOperationException($"no handler for command '{parsed.CommandResult.Command.Name}'"),
            };

            // After the work, so that a failing run still ends with exactly one line on stderr.
            if (code == ExitCodes.Success && UsageHints.Deprecated(parsed, options) is { } deprecated)
            {
                stderr.WriteLine(deprecated);
            }

            return code;
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // Also ONNX Runtime's "terminate flag" error: whatever a cancelled run throws is the cancellation.
            stderr.WriteLine("cancelled: nothing was written.");
            return ExitCodes.Cancelled;
        }
        catch (OnnxFactorizeException e)
        {
            return Fail(stderr, ExitCodes.BadInput, $"error: {FirstLine(e.Message)}", e, verbose);
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException e)
        {
            return Fail(stderr, ExitCodes.BadInput, $"error: regular expression '{e.Pattern}' took longer than {e.MatchTimeout.TotalSeconds:0.#} s on node name '{Truncate(e.Input)}'; simplify --only/--exclude (avoid nested repetition such as (a+)+).", e, verbose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(stderr, ExitCodes.BadInput, $"error: {FirstLine(e.Message)} Check the path and that its folder is writable.", e, verbose);
        }
        catch (Exception e)
        {
            return Fail(stderr, ExitCodes.InternalError, $"internal error: {e.GetType().Name}: {FirstLine(e.Message)} Rerun with --verbose for details and report it.", e, verbose);
        }
    }

    /// <summary>The root command with its three subcommands.</summary>
    public static RootCommand BuildRoot(CliOptions o)
    {
        var root = new RootCommand(
            "Shrinks ONNX models by low-rank factorization (SVD of Gemm/MatMul weights) and proves the result in ONNX Runtime.");
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new ExitCodesHelpAction((HelpAction)help.Action!, HelpLayout.Groups(o));
        HelpLayout.WriteDefaults(HelpLayout.Defaults(o));
        root.Add(o.Quiet);
        root.Add(o.Verbose);

        var optimize = new Command("optimize", "Factorize a model's weights and write the smaller model; with --validate, compare it with the original.");
        optimize.Add(new Argument<string>("model") { Description = "The .onnx model to optimize." });
        optimize.Add(o.Output);
        AddAll(optimize, o.FactorizeSet);
        optimize.Add(o.ExternalData);
        optimize.Add(o.DataAware);
        AddAll(optimize, o.BudgetSet);
        optimize.Add(o.Validate);
        AddAll(optimize, o.ValidationSet);
        root.Add(optimize);

        var analyze = new Command("analyze", "Per node: weight shape, parameters, FLOPs, ranks keeping 90/95/99/99.9 % energy, suggested and break-even rank, estimated savings. Writes no model.");
        analyze.Add(new Argument<string>("model") { Description = "The .onnx model to analyze." });
        analyze.Add(o.AnalyzeReport);
        analyze.Add(o.Json);
        AddAll(analyze, o.FactorizeSet);
        analyze.Add(o.Dim);
        analyze.Add(o.Inputs);
        root.Add(analyze);

        var compare = new Command("compare", "Run two models with the same inputs and outputs in ONNX Runtime and check thresholds.");
        compare.Add(new Argument<string>("a") { Description = "Reference model." });
        compare.Add(new Argument<string>("b") { Description = "Candidate model." });
        compare.Add(o.Seed);
        AddAll(compare, o.ValidationSet);
        root.Add(compare);
        return root;
    }

    private static void AddAll(Command command, IEnumerable<Option> options)
    {
        foreach (var option in options)
        {
            command.Add(option);
        }
    }

    private static int Fail(TextWriter stderr, int code, string message, Exception e, bool verbose)
    {
        stderr.WriteLine(message);
        if (verbose)
        {
            stderr.WriteLine(e.ToString());
        }

        return code;
    }

    private static string Truncate(string text) => text.Length <= 60 ? text : text[..60] + "…";

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.EndsWith('.') ? line : line + ".";
    }
}

/// <summary>The default help, its options in sections for the commands <paramref name="groups"/> names, followed by the
/// exit-code contract, on every command's --help.</summary>
internal sealed class ExitCodesHelpAction(HelpAction inner, IReadOnlyDictionary<string, IReadOnlyList<OptionGroup>> groups) : SynchronousCommandLineAction
{
    public override int Invoke(ParseResult parseResult)
    {
        var configuration = parseResult.InvocationConfiguration;
        var output = configuration.Output;
        var command = parseResult.CommandResult.Command;
        if (command is RootCommand || !groups.TryGetValue(command.Name, out var sections))
        {
            var plain = inner.Invoke(parseResult);
            output.WriteLine(CliApp.ExitCodeHelp);
            return plain;
        }

        // The built-in help writes one flat "Options:" list; it is captured and split into sections.
        using var buffer = new StringWriter();
        configuration.Output = buffer;
        int code;
        try
        {
            code = inner.Invoke(parseResult);
        }
        finally
        {
            configuration.Output = output;
        }

        output.Write(HelpLayout.Regroup(buffer.ToString(), sections));
        output.WriteLine(CliApp.ExitCodeHelp);
        return code;
    }
}
