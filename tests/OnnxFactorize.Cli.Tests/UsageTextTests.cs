using System.Text.Json;

namespace OnnxFactorize.Cli.Tests;

/// <summary>Help in sections, one report flag, and the one-line hints for other tools' habits and typos, run as a process.</summary>
public sealed class UsageTextTests : IDisposable
{
    private readonly TempDir _dir = new();

    private static string Mlp => CliProcess.TestModel("mlp_gemm.onnx");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Optimize_help_lists_its_options_in_sections_with_every_default_written_the_same_way()
    {
        var run = CliProcess.Run("optimize", "--help");
        Assert.True(run.ExitCode == 0, run.ToString());
        var help = run.Stdout;
        string[] headings = ["Output options:", "Factorization options", "Data-aware options", "Budget options", "Validation options", "General options:"];
        var positions = headings.Select(h => help.IndexOf(h, StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(-1, positions);
        Assert.Equal(positions.Order(), positions);
        Assert.DoesNotContain("\nOptions:", help);

        // Each option sits in its section, once.
        string Section(string heading)
        {
            var start = help.IndexOf(heading, StringComparison.Ordinal);
            var end = help.IndexOf("\n\n", start, StringComparison.Ordinal);
            return help[start..end];
        }

        Assert.Contains("--output <out.onnx>", Section("Output options:"));
        Assert.Contains("--energy <fraction>", Section("Factorization options"));
        Assert.Contains("--data-aware <none|whiten|sequential>", Section("Data-aware options"));
        Assert.Contains("--max-error <x>", Section("Budget options"));
        Assert.Contains("--cache-dir <dir>", Section("Budget options"));
        Assert.Contains("--max-rel-error <x>", Section("Validation options"));
        Assert.Contains("--verbose", Section("General options:"));
        Assert.Single(help.Split('\n'), l => l.TrimStart().StartsWith("--max-error ", StringComparison.Ordinal));

        // One way to write a default: [default: x], also for options whose absence means a value.
        foreach (var shown in new[] { "[default: 0.99]", "[default: auto]", "[default: flops]", "[default: 4]", "[default: 20]", "[default: none]", "[default: Gemm,MatMul,Conv]" })
        {
            Assert.Contains(shown, help);
        }

        Assert.DoesNotContain("(default", help);
        Assert.DoesNotContain("Default 0.99", help);
        Assert.DoesNotContain("flops (default)", help);
        Assert.EndsWith("130 cancelled.", help.TrimEnd());
    }

    [Fact]
    public void Analyze_and_compare_help_have_their_own_sections_and_analyze_shows_report_not_json()
    {
        var analyze = CliProcess.Run("analyze", "--help");
        Assert.True(analyze.ExitCode == 0, analyze.ToString());
        Assert.Contains("Output options:\n  --report <file.json>", analyze.Stdout);
        Assert.Contains("Factorization options", analyze.Stdout);
        Assert.DoesNotContain("--json", analyze.Stdout);
        var compare = CliProcess.Run("compare", "--help");
        Assert.True(compare.ExitCode == 0, compare.ToString());
        Assert.Contains("Validation options:", compare.Stdout);
        Assert.Contains("--report <file.json>", compare.Stdout);
    }

    [Fact]
    public void Analyze_writes_its_json_with_report_like_the_other_commands()
    {
        var json = _dir.File("a.json");
        var run = CliProcess.Run("analyze", Mlp, "--report", json);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Empty(run.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(5, doc.RootElement.GetProperty("nodes").GetArrayLength());
    }

    [Fact]
    public void Analyze_json_still_writes_the_file_and_says_it_is_deprecated()
    {
        var json = _dir.File("a.json");
        var run = CliProcess.Run("analyze", Mlp, "--json", json);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(json));
        var line = Assert.Single(run.StderrLines);
        Assert.StartsWith("note: analyze --json is deprecated", line);
        Assert.Contains("use --report <file.json>", line);
    }

    [Fact]
    public void Analyze_json_and_report_together_is_one_error_line()
    {
        var run = CliProcess.Run("analyze", Mlp, "--json", _dir.File("a.json"), "--report", _dir.File("b.json"));
        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(run.StderrLines);
        Assert.Equal("error: --report and --json conflict: --json is the deprecated spelling of --report; give --report only.", line);
    }

    [Theory]
    [InlineData("for less output use -q (--quiet)", "analyze", "{mlp}", "-v", "q")]
    [InlineData("for less output use -q (--quiet)", "analyze", "{mlp}", "--verbose", "quiet")]
    [InlineData("normal output is the default, so drop it", "optimize", "{mlp}", "-o", "{out}", "-v", "minimal")]
    [InlineData("normal output is the default, so drop it", "optimize", "{mlp}", "-o", "{out}", "-v", "n")]
    [InlineData("for skip reasons and stack traces use -v alone", "optimize", "{mlp}", "-o", "{out}", "-v", "detailed")]
    [InlineData("for skip reasons and stack traces use -v alone", "optimize", "{mlp}", "-o", "{out}", "-v:diag")]
    [InlineData("for skip reasons and stack traces use -v alone", "compare", "{mlp}", "{mlp}", "--verbosity", "d")]
    [InlineData("for skip reasons and stack traces use -v alone", "-v", "diagnostic", "analyze", "{mlp}")]
    public void Dotnet_verbosity_levels_after_v_are_one_error_line_saying_v_is_a_flag(string advice, params string[] args)
    {
        var run = CliProcess.Run(Resolve(args));
        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(run.StderrLines);
        Assert.Contains("is dotnet's verbosity habit; here -v (--verbose) is a flag and takes no level: " + advice, line);
        Assert.Empty(run.Stdout);
        Assert.False(File.Exists(_dir.File("out.onnx")));
    }

    [Fact]
    public void V_alone_is_still_the_verbose_flag()
    {
        var run = CliProcess.Run("optimize", Mlp, "-o", _dir.File("out.onnx"), "-v");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("factorized: ", run.Stdout);
    }

    [Fact]
    public void Optimize_with_the_output_as_a_second_argument_gets_the_o_hint()
    {
        var run = CliProcess.Run("optimize", Mlp, _dir.File("out.onnx"));
        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(run.StderrLines);
        Assert.Equal($"error: optimize takes one model and writes where -o says; did you mean -o {_dir.File("out.onnx")}? See 'onnx-factorize optimize --help'.", line);
        Assert.False(File.Exists(_dir.File("out.onnx")));
    }

    [Theory]
    [InlineData("error: unknown command 'optimise'; did you mean 'optimize'? See 'onnx-factorize --help'.", "optimise", "{mlp}")]
    [InlineData("error: unknown command 'analyse'; did you mean 'analyze'? See 'onnx-factorize --help'.", "analyse", "{mlp}")]
    [InlineData("error: unknown command 'comapre'; did you mean 'compare'? See 'onnx-factorize --help'.", "comapre", "{mlp}", "{mlp}")]
    [InlineData("error: unknown command 'shrink'; the commands are optimize, analyze, compare. See 'onnx-factorize --help'.", "shrink", "{mlp}")]
    [InlineData("error: unknown option '--enrgy'; did you mean '--energy'? See 'onnx-factorize optimize --help'.", "optimize", "{mlp}", "-o", "{out}", "--enrgy", "0.5")]
    [InlineData("error: unknown option '--max-eror'; did you mean '--max-error'? See 'onnx-factorize optimize --help'.", "optimize", "{mlp}", "-o", "{out}", "--max-eror", "0.02")]
    [InlineData("error: unknown option '--repotr'; did you mean '--report'? See 'onnx-factorize analyze --help'.", "analyze", "{mlp}", "--repotr", "{out}")]
    [InlineData("error: unknown option '--quite'; did you mean '--quiet'? See 'onnx-factorize compare --help'.", "compare", "{mlp}", "{mlp}", "--quite")]
    public void Unknown_commands_and_options_get_the_nearest_name_and_exit_2(string expected, params string[] args)
    {
        var run = CliProcess.Run(Resolve(args));
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal(expected, Assert.Single(run.StderrLines));
        Assert.False(File.Exists(_dir.File("out.onnx")));
    }

    [Fact]
    public void Analyze_advises_what_would_cut_flops_when_the_policy_would_factorize_nothing()
    {
        var run = CliProcess.Run("analyze", Mlp, "--energy", "0.99999");
        Assert.True(run.ExitCode == 0, run.ToString());
        var advice = Assert.Single(run.Stdout.Split('\n'), l => l.StartsWith("advice:", StringComparison.Ordinal));
        Assert.StartsWith("advice: nothing would be factorized at energy 0.99999", advice);
        Assert.Contains("--rank-ratio 0.5 would factorize 5 node(s)", advice);
        Assert.Contains("--rank-ratio 0.25 would factorize 5 node(s)", advice);
        Assert.Contains($"Let accuracy decide: onnx-factorize optimize {Mlp} -o out.onnx --max-error 0.02 --validate", advice);
    }

    [Fact]
    public void Analyze_gives_no_advice_when_the_policy_saves_enough()
    {
        var run = CliProcess.Run("analyze", Mlp);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("advice:", run.Stdout);
    }

    private string[] Resolve(string[] args) => [.. args.Select(a => a
        .Replace("{mlp}", Mlp, StringComparison.Ordinal)
        .Replace("{out}", _dir.File("out.onnx"), StringComparison.Ordinal))];
}
