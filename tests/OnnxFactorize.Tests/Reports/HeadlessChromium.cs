using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OnnxFactorize.Tests.Reports;

/// <summary>Runs the real headless Chromium on a report page: dump the DOM, take a screenshot, or run a probe script in
/// the laid-out page and read back what it measured.</summary>
internal static partial class HeadlessChromium
{
    /// <summary>The chromium binary on PATH; fails (never skips) when it is missing, since CI installs it (tools/setup.sh).</summary>
    public static string Path()
    {
        foreach (var name in new[] { "chromium", "chromium-browser" })
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            {
                var path = System.IO.Path.Combine(dir, name);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        Assert.Fail("chromium not found on PATH; install it with: apt-get install -y chromium (CI must have it; this test never skips).");
        return "";
    }

    /// <summary>Runs chromium headless on <paramref name="page"/> with <paramref name="action"/> (e.g. --dump-dom).</summary>
    public static (int Code, string Out, string Err) Run(string action, string page, string workingDirectory)
    {
        var profile = Directory.CreateTempSubdirectory("onnxf-chromium-").FullName;
        try
        {
            var info = new ProcessStartInfo(Path(),
                $"--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars --enable-logging=stderr --user-data-dir={profile} {action} file://{page}")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = workingDirectory,
            };
            using var p = Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
            {
                p.Kill(entireProcessTree: true);
                return (-1, stdout.Result, "timed out after 90 s");
            }

            return (p.ExitCode, stdout.Result, stderr.Result);
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    /// <summary>Loads <paramref name="html"/> in a window <paramref name="width"/> px wide with <paramref name="script"/>
    /// appended to the body; the script stores an object in <c>window.probe</c>, which comes back as JSON.</summary>
    public static JsonElement Probe(string html, string script, string folder, int width = 1280)
    {
        var at = html.LastIndexOf("</body>", StringComparison.Ordinal);
        Assert.True(at > 0, "the page has no </body>");
        var page = System.IO.Path.Combine(folder, $"probe-{Guid.NewGuid():N}.html");
        File.WriteAllText(page, html[..at]
            + "<script>(function(){" + script + "})();var o=document.createElement('pre');o.id='probe-result';o.textContent=JSON.stringify(window.probe);document.body.appendChild(o);</script>"
            + html[at..]);
        if (Environment.GetEnvironmentVariable("ONNXF_KEEP_PROBE") is { Length: > 0 } keep)
        {
            File.Copy(page, System.IO.Path.Combine(keep, System.IO.Path.GetFileName(page)), overwrite: true);
        }

        var (code, dom, err) = Run($"--window-size={width},900 --dump-dom", page, folder);
        Assert.True(code == 0, $"chromium exited {code}: {err}");
        Assert.DoesNotContain("Uncaught", err, StringComparison.Ordinal);
        var m = ProbeResult().Match(dom);
        Assert.True(m.Success, $"the probe wrote no result; chromium said: {err}");
        return JsonDocument.Parse(WebUtility.HtmlDecode(m.Groups[1].Value)).RootElement.Clone();
    }

    /// <summary>Measures horizontal overflow: the document's scroll and client widths, every element whose right edge
    /// passes the window (first 10), and the tallest row of each node table.</summary>
    public const string LayoutScript = """
        var d=document.documentElement,out=[];
        document.querySelectorAll('body *').forEach(function(e){var b=e.getBoundingClientRect();
          if(b.width>0&&b.right>d.clientWidth+0.5&&out.length<10){out.push(e.tagName+(e.id?'#'+e.id:'')+' right '+Math.round(b.right));}});
        function tallest(sel){var m=0;document.querySelectorAll(sel).forEach(function(r){m=Math.max(m,r.getBoundingClientRect().height);});return m;}
        window.probe={scrollWidth:d.scrollWidth,clientWidth:d.clientWidth,outside:out,
          tallestNodeRow:tallest('#nodes tbody tr'),tallestPlanRow:tallest('#plan-nodes tbody tr'),
          openReasons:document.querySelectorAll('details.reason[open]').length,reasons:document.querySelectorAll('details.reason').length};
        """;

    [GeneratedRegex("<pre id=\"probe-result\">(.*?)</pre>", RegexOptions.Singleline)]
    private static partial Regex ProbeResult();
}
