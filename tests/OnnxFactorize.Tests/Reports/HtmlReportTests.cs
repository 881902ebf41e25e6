using OnnxFactorize.Reports;
using OnnxFactorize.Tests.Validation;

namespace OnnxFactorize.Tests.Reports;

public sealed class HtmlReportTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Html_without_thresholds_says_nothing_was_checked_and_shows_no_pass()
    {
        var unchecked_ = SampleResults.Failed() with { Thresholds = new(), Failures = [] };
        var html = HtmlReport.Render(unchecked_);

        Assert.Contains("<p id=\"verdict\" class=\"unchecked\">NOT CHECKED: no thresholds set, nothing was checked</p>", html, StringComparison.Ordinal);
        Assert.DoesNotContain(">PASS<", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Every threshold held", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Html_pass_lists_each_threshold_as_default_or_explicit()
    {
        var passed = SampleResults.Failed() with { Thresholds = new OnnxFactorize.Validation.ValidationThresholds { MinSpeedup = 1.1 }.WithDefaults(), Failures = [] };
        var html = HtmlReport.Render(passed);

        Assert.Contains("<p id=\"verdict\" class=\"pass\">PASS</p>", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>maxRelL2Error</td><td>0.05</td><td>default</td></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>minSpeedup</td><td>1.1</td><td>explicit</td></tr>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Html_is_self_contained_and_escapes_names()
    {
        var html = HtmlReport.Render(SampleResults.Failed(), decisions: SampleResults.Decisions);

        Assert.DoesNotContain("<script src", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.Contains("conv&lt;2&gt;", html, StringComparison.Ordinal);
        Assert.Equal(2, html.Split("class=\"spectrum\"").Length - 1);
    }

    [Fact]
    public void Html_report_renders_in_headless_chromium_with_every_section()
    {
        var page = _dir.File("report.html");
        HtmlReport.WriteFile(SampleResults.Failed(), page, decisions: SampleResults.Decisions);

        var (code, dom, err) = HeadlessChromium.Run("--dump-dom", page, _dir.Path);
        Assert.True(code == 0, $"chromium exited {code}: {err}");
        foreach (var hook in new[] { "id=\"verdict\"", "id=\"summary\"", "id=\"nodes\"", "id=\"outputs\"", "id=\"failures\"", "id=\"accuracy-chart\"", "id=\"latency-chart\"", "class=\"spectrum\"", "class=\"rank-marker\"", "id=\"per-node\"", "class=\"sortable wide\"" })
        {
            Assert.Contains(hook, dom, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("parsererror", dom, StringComparison.Ordinal);
        Assert.DoesNotContain(":CONSOLE(", err, StringComparison.Ordinal);

        var png = _dir.File("report.png");
        var (shotCode, _, shotErr) = HeadlessChromium.Run($"--window-size=1280,2000 --screenshot={png}", page, _dir.Path);
        Assert.True(shotCode == 0 && File.Exists(png), $"screenshot failed ({shotCode}): {shotErr}");
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, File.ReadAllBytes(png)[..4]);
        if (Environment.GetEnvironmentVariable("ONNXF_KEEP_SCREENSHOT") is { Length: > 0 } keep)
        {
            File.Copy(png, keep, overwrite: true);
        }
    }
}
