using OnnxFactorize.Reports;
using Spectre.Console;

namespace OnnxFactorize.Tests.Reports;

public class ConsoleReportTests
{
    [Fact]
    public void Console_summary_shows_tables_and_each_failure()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(writer) });
        console.Profile.Width = 200;

        ConsoleReport.Render(SampleResults.Failed(), console, SampleResults.Decisions);
        var text = writer.ToString();

        Assert.Contains("Parameters", text, StringComparison.Ordinal);
        Assert.Contains("250,000", text, StringComparison.Ordinal);
        Assert.Contains("conv<2>", text, StringComparison.Ordinal);
        Assert.Contains("skipped: rank above break-even", text, StringComparison.Ordinal);
        Assert.Contains("75.00%", text, StringComparison.Ordinal);
        Assert.Contains("Speedup: 2.00x faster (95 % CI 1.80–2.20x over 20 interleaved pairs)", text, StringComparison.Ordinal);
        Assert.Contains("FAIL: 1 threshold(s) broken.", text, StringComparison.Ordinal);
        Assert.Contains("output 'logits': relL2Error 0.021 is above the limit maxRelL2Error 0.01 by 0.011", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Console_without_thresholds_says_nothing_was_checked_instead_of_pass()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Out = new AnsiConsoleOutput(writer) });
        console.Profile.Width = 200;

        ConsoleReport.Render(SampleResults.Failed() with { Thresholds = new(), Failures = [] }, console);
        var text = writer.ToString();

        Assert.Contains("NOT CHECKED: no thresholds set: nothing was checked.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("PASS", text, StringComparison.Ordinal);
    }
}
