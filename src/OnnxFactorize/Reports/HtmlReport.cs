using System.Globalization;
using System.Net;
using System.Text;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Reports;

/// <summary>Writes a <see cref="ValidationResult"/> as one self-contained HTML file (inline CSS, SVG and one small sorting
/// script; no network), laid out to fit a 1280 px laptop window without horizontal scrolling.</summary>
/// <remarks>Stable hooks: #verdict, #summary, #failures, #outputs, #accuracy-chart, #latency-chart, #nodes (table.sortable,
/// one tr[data-node] per decision), #plan (#plan-nodes, #verifications), #per-node (one .node-card[data-node] per node with
/// something to plot: .compression, svg.ladder with one g.series[data-method] per method, .spectrum, .rank-marker),
/// details.reason (long reasons, collapsed).</remarks>
public static partial class HtmlReport
{
    private const string Css = """
        *{box-sizing:border-box}
        body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;padding:1rem 1.5rem;color:#222;max-width:80rem;line-height:1.35}
        h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
        h3{font-size:.95rem;margin:0 0 .25rem;overflow-wrap:anywhere}
        table{border-collapse:collapse;margin:.5rem 0;font-size:.875rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;vertical-align:top}
        th:first-child,td:first-child,td.text,th.text{text-align:left}thead{background:#f3f3f3}td{overflow-wrap:break-word}.name{overflow-wrap:anywhere}td.name{min-width:10rem}td.reason{min-width:12rem}td.num{overflow-wrap:normal}
        .wide{width:100%}.scroll{max-width:100%;overflow-x:auto}
        table.sortable th{cursor:pointer;user-select:none}table.sortable th::after{content:" \2195";color:#aaa}
        table.sortable th[aria-sort=ascending]::after{content:" \25B2";color:#333}table.sortable th[aria-sort=descending]::after{content:" \25BC";color:#333}
        tr.skipped td{color:#666}td.status-factorized{color:#1a7f37}
        details.reason summary{cursor:pointer}details.reason[open] summary{color:#777}details.reason p{margin:.25rem 0 0}
        .pass{color:#1a7f37}.fail{color:#c62828}.unchecked{color:#9a6700}#verdict{font-size:1.3rem;font-weight:bold}
        .charts{display:flex;flex-wrap:wrap;gap:2rem}figure{margin:0}figcaption{font-size:.8rem;color:#555}
        .kept{display:block;width:4rem;height:.45rem;background:#e3e8ee;margin:.2rem 0 .1rem auto}.kept>i{display:block;height:100%;background:#3572b0}.kept.flops>i{background:#7b5ea7}
        .cards{display:flex;flex-direction:column;gap:1rem}
        .node-card{border:1px solid #ddd;padding:.6rem;min-width:0;display:flex;flex-wrap:wrap;gap:.5rem 1rem}.node-card .info{flex:1 1 22rem;min-width:0}
        .node-card .meta{font-size:.85rem;color:#555;margin:0 0 .4rem}
        .compression{display:grid;grid-template-columns:auto minmax(3rem,8rem) 1fr;gap:.15rem .5rem;align-items:center;font-size:.85rem;margin-bottom:.4rem}
        .compression .kept{width:100%;height:.7rem;margin:0}
        .node-card figure{flex:0 1 22.5rem;min-width:0;max-width:22.5rem}.node-card svg{width:100%;height:auto}
        .node-card table{font-size:.8rem}details.rungs{flex:1 1 100%;min-width:0}.why{font-size:.85rem;margin:.3rem 0}
        svg text{font-size:11px;fill:#333;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}.bar-a{fill:#9aa5b1}.bar-b{fill:#3572b0}.limit{stroke:#c62828;stroke-dasharray:4 3}
        .curve{fill:none;stroke:#3572b0;stroke-width:1.5}.rank-marker{stroke:#c62828;stroke-width:1.5}.axis{stroke:#888}.grid{stroke:#eee}
        .series polyline{fill:none;stroke-width:1;opacity:.6}.chosen-rung{fill:none;stroke:#c62828;stroke-width:2}
        """;

    /// <summary>The report as an HTML string; with a budget <paramref name="plan"/>, each node's measured ladder is plotted
    /// (error vs rank, one series per method) with the rank chosen and why; <paramref name="decisions"/> fill the sortable
    /// node table, the per-node compression and the spectra.</summary>
    public static string Render(ValidationResult result, BudgetPlan? plan = null, IReadOnlyList<FactorizationDecision>? decisions = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        decisions ??= [];
        var cards = CardIds(plan, decisions);
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>OnnxFactorize validation report</title><style>")
            .Append(Css).Append("</style></head><body>\n<h1>OnnxFactorize validation report</h1>\n");
        var verdict = result.Verdict switch
        {
            "pass" => "PASS",
            "fail" => "FAIL",
            _ => "NOT CHECKED: no thresholds set, nothing was checked",
        };
        h.Append(CultureInfo.InvariantCulture, $"<p id=\"verdict\" class=\"{result.Verdict}\">{verdict}</p>\n");
        Summary(h, result);
        Failures(h, result);
        Outputs(h, result);
        h.Append("<section id=\"charts\"><h2>Charts</h2><div class=\"charts\">");
        AccuracyChart(h, result);
        LatencyChart(h, result);
        h.Append("</div></section>\n");
        Nodes(h, decisions, cards);
        Plan(h, plan, decisions, cards);
        PerNode(h, plan, decisions, cards);
        h.Append("<script>").Append(SortScript).Append("</script>\n</body></html>\n");
        return h.ToString();
    }

    /// <summary>Writes the report to a file.</summary>
    public static void WriteFile(ValidationResult result, string path, BudgetPlan? plan = null, IReadOnlyList<FactorizationDecision>? decisions = null) =>
        TempFiles.WriteAtomic(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(Render(result, plan, decisions))));

    private static void Summary(StringBuilder h, ValidationResult r)
    {
        h.Append("<section id=\"summary\"><h2>Summary</h2><div class=\"scroll\"><table><thead><tr><th></th><th>Original</th><th>Optimized</th><th>Ratio</th></tr></thead><tbody>");
        Row(h, "Model", $"<span class=\"name\">{E(r.Original.Path)}</span>", $"<span class=\"name\">{E(r.Optimized.Path)}</span>", "");
        Row(h, "Parameters", N(r.Original.Parameters), N(r.Optimized.Parameters), Ratio(r.Optimized.Parameters, r.Original.Parameters));
        Row(h, "FLOPs", N(r.Original.Flops), N(r.Optimized.Flops), Ratio(r.Optimized.Flops, r.Original.Flops));
        Row(h, "File bytes", N(r.Original.FileBytes), N(r.Optimized.FileBytes), Ratio(r.Optimized.FileBytes, r.Original.FileBytes));
        if (r.Latency is { } l)
        {
            Row(h, "Median latency (ms)", F(l.Original.MedianMs), F(l.Optimized.MedianMs), E(l.Describe()));
            Row(h, "p90 latency (ms)", F(l.Original.P90Ms), F(l.Optimized.P90Ms), "");
            Row(h, "Min latency (ms)", F(l.Original.MinMs), F(l.Optimized.MinMs), "");
        }

        Row(h, "Samples", r.SampleCount.ToString(CultureInfo.InvariantCulture), E(r.InputsDescription), "");
        h.Append("</tbody></table></div></section>\n");
    }

    private static void Failures(StringBuilder h, ValidationResult r)
    {
        h.Append("<section id=\"failures\"><h2>Thresholds</h2>");
        if (r.Checked)
        {
            h.Append("<table id=\"thresholds\"><thead><tr><th>Threshold</th><th>Limit</th><th>Source</th></tr></thead><tbody>");
            foreach (var (name, limit, isDefault) in r.Thresholds.Set())
            {
                h.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(name)}</td><td>{G(limit)}</td><td>{(isDefault ? "default" : "explicit")}</td></tr>");
            }

            h.Append("</tbody></table>");
        }

        if (r.HeldOut is { } c)
        {
            h.Append(CultureInfo.InvariantCulture, $"<p id=\"budget-check\" class=\"{(c.Margin >= 0 ? "pass" : "fail")}\">{E(c.Describe())}</p>");
        }

        if (!r.Checked)
        {
            h.Append("<p class=\"unchecked\">No thresholds set: nothing was checked.</p>");
        }
        else if (r.Failures.Count == 0)
        {
            h.Append("<p class=\"pass\">Every threshold held.</p>");
        }
        else
        {
            h.Append("<ul>");
            foreach (var f in r.Failures)
            {
                h.Append("<li class=\"fail\">").Append(E(f.Message)).Append("</li>");
            }

            h.Append("</ul>");
        }

        h.Append("</section>\n");
    }

    private static void Outputs(StringBuilder h, ValidationResult r)
    {
        h.Append("<section id=\"outputs\"><h2>Accuracy per output</h2><div class=\"scroll\"><table><thead><tr><th>Output</th><th>Max abs</th><th>Mean abs</th><th>Rel. L2</th><th>Cosine</th><th>Top-1 agreement</th><th>Accuracy drop (pt)</th><th>Non-finite (orig/opt)</th></tr></thead><tbody>");
        foreach (var o in r.Outputs)
        {
            var c = o.Classification;
            h.Append("<tr><td>").Append(E(o.Name)).Append("</td><td>").Append(G(o.MaxAbsError)).Append("</td><td>").Append(G(o.MeanAbsError))
                .Append("</td><td>").Append(G(o.RelL2Error)).Append("</td><td>").Append(G(o.Cosine)).Append("</td><td>")
                .Append(c is null ? "-" : G(c.Top1Agreement)).Append("</td><td>").Append(c?.AccuracyDropPoints is { } d ? G(d) : "-")
                .Append(CultureInfo.InvariantCulture, $"</td><td>{o.NonFiniteOriginal} / {o.NonFiniteOptimized}</td></tr>");
        }

        h.Append("</tbody></table></div></section>\n");
    }

    private static void AccuracyChart(StringBuilder h, ValidationResult r)
    {
        var limit = r.Thresholds.MaxRelL2Error;
        var max = r.Outputs.Select(o => double.IsFinite(o.RelL2Error) ? o.RelL2Error : 0).Append(limit ?? 0).DefaultIfEmpty(0).Max();
        max = max > 0 ? max * 1.1 : 1;
        const double W = 360, L = 110, Row = 24;
        var height = 30 + (Row * Math.Max(1, r.Outputs.Count));
        h.Append(CultureInfo.InvariantCulture, $"<figure><svg id=\"accuracy-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" viewBox=\"0 0 {W} {height}\" role=\"img\" aria-label=\"relative L2 error per output\">");
        for (var i = 0; i < r.Outputs.Count; i++)
        {
            var o = r.Outputs[i];
            var v = double.IsFinite(o.RelL2Error) ? o.RelL2Error : max;
            var y = 10 + (i * Row);
            h.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{y + 14}\">{E(Trim(o.Name))}</text><rect class=\"bar-b\" x=\"{L}\" y=\"{y}\" width=\"{(W - L - 60) * v / max:0.##}\" height=\"{Row - 6}\"/><text x=\"{L + ((W - L - 60) * v / max) + 4:0.##}\" y=\"{y + 14}\">{G(o.RelL2Error)}</text>");
        }

        if (limit is { } lim)
        {
            var x = L + ((W - L - 60) * lim / max);
            h.Append(CultureInfo.InvariantCulture, $"<line class=\"limit\" x1=\"{x:0.##}\" y1=\"4\" x2=\"{x:0.##}\" y2=\"{height - 16}\"/><text x=\"{x:0.##}\" y=\"{height - 4}\">limit {G(lim)}</text>");
        }

        h.Append("</svg><figcaption>Relative L2 error per output</figcaption></figure>");
    }

    private static void LatencyChart(StringBuilder h, ValidationResult r)
    {
        const double W = 360, H = 120, L = 80;
        h.Append(CultureInfo.InvariantCulture, $"<figure><svg id=\"latency-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"median latency\">");
        if (r.Latency is { } l)
        {
            var max = Math.Max(Math.Max(l.Original.MedianMs, l.Optimized.MedianMs), 1e-9) * 1.1;
            h.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"34\">Original</text><rect class=\"bar-a\" x=\"{L}\" y=\"20\" width=\"{(W - L - 80) * l.Original.MedianMs / max:0.##}\" height=\"20\"/><text x=\"{L + ((W - L - 80) * l.Original.MedianMs / max) + 4:0.##}\" y=\"34\">{F(l.Original.MedianMs)} ms</text>");
            h.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"74\">Optimized</text><rect class=\"bar-b\" x=\"{L}\" y=\"60\" width=\"{(W - L - 80) * l.Optimized.MedianMs / max:0.##}\" height=\"20\"/><text x=\"{L + ((W - L - 80) * l.Optimized.MedianMs / max) + 4:0.##}\" y=\"74\">{F(l.Optimized.MedianMs)} ms</text>");
            h.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"110\">speedup {F(l.Speedup)}x (median of per-pair ratios)</text>");
        }
        else
        {
            h.Append("<text x=\"0\" y=\"60\">latency not measured</text>");
        }

        h.Append("</svg><figcaption>Median latency</figcaption></figure>");
    }

    private static void Row(StringBuilder h, string label, string a, string b, string c)
        => h.Append("<tr><td>").Append(label).Append("</td><td>").Append(a).Append("</td><td>").Append(b).Append("</td><td>").Append(c).Append("</td></tr>");

    private static string Trim(string s) => s.Length > 16 ? s[..15] + "…" : s;

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);

    private static string G(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    private static string Ratio(long after, long before) => before == 0 ? "-" : ((double)after / before).ToString("0.000", CultureInfo.InvariantCulture);
}
