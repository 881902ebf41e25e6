using System.Globalization;
using System.Net;
using System.Text;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Reports;

/// <summary>Writes a <see cref="ValidationResult"/> as one self-contained HTML file (inline CSS and SVG, no scripts, no network).</summary>
/// <remarks>Stable hooks: #verdict, #summary, #failures, #outputs, #accuracy-chart, #latency-chart, #nodes, #spectra, .spectrum (one per factorized weight, data-node), .rank-marker.</remarks>
public static class HtmlReport
{
    private const string Css = """
        body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:70rem}
        h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
        table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
        th:first-child,td:first-child{text-align:left}thead{background:#f3f3f3}
        .pass{color:#1a7f37}.fail{color:#c62828}.unchecked{color:#9a6700}#verdict{font-size:1.3rem;font-weight:bold}
        .charts{display:flex;flex-wrap:wrap;gap:2rem}.spectra{display:flex;flex-wrap:wrap;gap:1rem}
        figure.spectrum{margin:0;border:1px solid #ddd;padding:.5rem}figcaption{font-size:.85rem;color:#555}
        svg text{font-size:11px;fill:#333}.bar-a{fill:#9aa5b1}.bar-b{fill:#3572b0}.limit{stroke:#c62828;stroke-dasharray:4 3}
        .curve{fill:none;stroke:#3572b0;stroke-width:1.5}.rank-marker{stroke:#c62828;stroke-width:1.5}.axis{stroke:#888}
        """;

    /// <summary>The report as an HTML string; with a budget <paramref name="plan"/>, a section lists each node's measured
    /// ladder, the rank chosen and why; <paramref name="decisions"/> fill the node table and spectra.</summary>
    public static string Render(ValidationResult result, BudgetPlan? plan = null, IReadOnlyList<FactorizationDecision>? decisions = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        decisions ??= [];
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>OnnxFactorize validation report</title><style>")
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
        Nodes(h, decisions);
        Plan(h, plan);
        Spectra(h, decisions);
        h.Append("</body></html>\n");
        return h.ToString();
    }

    /// <summary>Writes the report to a file.</summary>
    public static void WriteFile(ValidationResult result, string path, BudgetPlan? plan = null, IReadOnlyList<FactorizationDecision>? decisions = null) =>
        TempFiles.WriteAtomic(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(Render(result, plan, decisions))));

    private static void Plan(StringBuilder h, BudgetPlan? plan)
    {
        if (plan is null)
        {
            return;
        }

        h.Append(CultureInfo.InvariantCulture, $"<section id=\"plan\"><h2>Budget plan</h2><p>{E(plan.Budget)}, target {E(plan.Target.ToString().ToLowerInvariant())}: measured error {G(plan.FinalError)} on {plan.SampleCount} calibration sample(s).</p>");
        h.Append("<table><thead><tr><th>Node</th><th>Op</th><th>Ladder (rank: output error)</th><th>Chosen rank</th><th>Why</th></tr></thead><tbody>");
        foreach (var n in plan.Nodes)
        {
            var ladder = string.Join(", ", n.Ladder.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Rank}: {G(p.Error)}")));
            h.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(n.NodeName)}</td><td>{E(n.OpType)}</td><td>{E(ladder)}</td><td>{(n.ChosenRank > 0 ? n.ChosenRank.ToString(CultureInfo.InvariantCulture) : "–")}</td><td>{E(n.Reason)}</td></tr>");
        }

        h.Append("</tbody></table></section>\n");
    }

    private static void Summary(StringBuilder h, ValidationResult r)
    {
        h.Append("<section id=\"summary\"><h2>Summary</h2><table><thead><tr><th></th><th>Original</th><th>Optimized</th><th>Ratio</th></tr></thead><tbody>");
        Row(h, "Model", E(r.Original.Path), E(r.Optimized.Path), "");
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
        h.Append("</tbody></table></section>\n");
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
        h.Append("<section id=\"outputs\"><h2>Accuracy per output</h2><table><thead><tr><th>Output</th><th>Max abs</th><th>Mean abs</th><th>Rel. L2</th><th>Cosine</th><th>Top-1 agreement</th><th>Accuracy drop (pt)</th><th>Non-finite (orig/opt)</th></tr></thead><tbody>");
        foreach (var o in r.Outputs)
        {
            var c = o.Classification;
            h.Append("<tr><td>").Append(E(o.Name)).Append("</td><td>").Append(G(o.MaxAbsError)).Append("</td><td>").Append(G(o.MeanAbsError))
                .Append("</td><td>").Append(G(o.RelL2Error)).Append("</td><td>").Append(G(o.Cosine)).Append("</td><td>")
                .Append(c is null ? "-" : G(c.Top1Agreement)).Append("</td><td>").Append(c?.AccuracyDropPoints is { } d ? G(d) : "-")
                .Append(CultureInfo.InvariantCulture, $"</td><td>{o.NonFiniteOriginal} / {o.NonFiniteOptimized}</td></tr>");
        }

        h.Append("</tbody></table></section>\n");
    }

    private static void Nodes(StringBuilder h, IReadOnlyList<FactorizationDecision> decisions)
    {
        h.Append("<section id=\"nodes\"><h2>Nodes</h2>");
        if (decisions.Count == 0)
        {
            h.Append("<p>No factorization decisions recorded.</p></section>\n");
            return;
        }

        h.Append("<table><thead><tr><th>Node</th><th>Op</th><th>Method</th><th>Rank</th><th>Params before</th><th>Params after</th><th>FLOPs before</th><th>FLOPs after</th><th>Weight rel. error</th><th>Status</th><th>Reason</th></tr></thead><tbody>");
        foreach (var d in decisions)
        {
            var status = d.Status == DecisionStatus.Factorized ? "factorized" : "skipped";
            h.Append(CultureInfo.InvariantCulture, $"<tr class=\"{status}\"><td>{E(d.NodeName)}</td><td>{E(d.OpType)}</td><td>{E(d.Method)}</td><td>{d.Rank}</td><td>{N(d.ParamsBefore)}</td><td>{N(d.ParamsAfter)}</td><td>{N(d.FlopsBefore)}</td><td>{N(d.FlopsAfter)}</td><td>{G(d.WeightRelError)}</td><td>{status}</td><td>{E(d.Reason)}</td></tr>");
        }

        h.Append("</tbody></table></section>\n");
    }

    // Singular values on a log scale, normalized to σ₁, with the chosen rank marked (Eckart–Young: the tail beyond it is the error).
    private static void Spectra(StringBuilder h, IReadOnlyList<FactorizationDecision> decisions)
    {
        h.Append("<section id=\"spectra\"><h2>Singular-value spectra</h2><div class=\"spectra\">");
        const double W = 320, H = 180, L = 40, B = 25, T = 10, R = 10;
        foreach (var d in decisions.Where(d => d.Status == DecisionStatus.Factorized && d.SingularValues.Count > 0))
        {
            var s = d.SingularValues;
            var top = s.Max();
            var floor = s.Where(v => v > 0).DefaultIfEmpty(top).Min() / Math.Max(top, double.Epsilon);
            var minLog = Math.Floor(Math.Log10(Math.Max(floor, 1e-12)));
            minLog = Math.Min(minLog, -1);
            double X(double i) => L + ((W - L - R) * (s.Count == 1 ? 0.5 : i / (s.Count - 1)));
            double Y(double v) => T + ((H - T - B) * (Math.Log10(Math.Max(v / top, Math.Pow(10, minLog))) / minLog));
            h.Append(CultureInfo.InvariantCulture, $"<figure class=\"spectrum\" data-node=\"{E(d.NodeName)}\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"singular values of {E(d.NodeName)}\">");
            h.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{L}\" y1=\"{H - B}\" x2=\"{W - R}\" y2=\"{H - B}\"/><line class=\"axis\" x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{H - B}\"/>");
            h.Append(CultureInfo.InvariantCulture, $"<text x=\"2\" y=\"{T + 8}\">1</text><text x=\"2\" y=\"{H - B}\">1e{minLog}</text><text x=\"{L}\" y=\"{H - 8}\">1</text><text x=\"{W - R - 20}\" y=\"{H - 8}\">{s.Count}</text>");
            h.Append("<polyline class=\"curve\" points=\"");
            for (var i = 0; i < s.Count; i++)
            {
                h.Append(CultureInfo.InvariantCulture, $"{X(i):0.##},{Y(s[i]):0.##} ");
            }

            h.Append("\"/>");
            if (d.Rank > 0)
            {
                var x = X(Math.Min(d.Rank, s.Count) - 1);
                h.Append(CultureInfo.InvariantCulture, $"<line class=\"rank-marker\" data-rank=\"{d.Rank}\" x1=\"{x:0.##}\" y1=\"{T}\" x2=\"{x:0.##}\" y2=\"{H - B}\"/><text x=\"{x + 3:0.##}\" y=\"{T + 10}\">rank {d.Rank}</text>");
            }

            h.Append(CultureInfo.InvariantCulture, $"</svg><figcaption>{E(d.NodeName)} ({E(d.OpType)}, {E(d.Method)}): σ/σ₁, rank {d.Rank} of {s.Count}</figcaption></figure>");
        }

        h.Append("</div></section>\n");
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
