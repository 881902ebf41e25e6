using System.Globalization;
using System.Text;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;

namespace OnnxFactorize.Reports;

// Per-node cards: the compression a node got, its measured ladder (error vs rank, one series per method) and its spectrum.
public static partial class HtmlReport
{
    // Marker shape and colour per method, in legend order; any other method gets a grey cross.
    private static readonly (string Method, string Shape, string Color)[] MethodStyles =
    [
        ("svd", "circle", "#3572b0"),
        ("tucker2", "square", "#d9822b"),
        ("spatial-svd", "triangle", "#2e9e5b"),
        ("depthwise", "diamond", "#8e44ad"),
    ];

    private static void PerNode(StringBuilder h, BudgetPlan? plan, IReadOnlyList<FactorizationDecision> decisions, IReadOnlyDictionary<string, string> cards)
    {
        h.Append("<section id=\"per-node\"><h2>Per node</h2>");
        if (cards.Count == 0)
        {
            h.Append("<p>No node was factorized or measured.</p></section>\n");
            return;
        }

        h.Append(plan is null
            ? "<p>Each factorized node: parameters and FLOPs kept, and its singular values (σ/σ₁, log scale) with the chosen rank marked.</p>"
            : "<p>Each measured node: parameters and FLOPs kept; its ladder, the model's error with only this node factorized at each measured rank (log scale; one marker per method, the dashed line is the budget, the ring the chosen rung); and its singular values with the chosen rank.</p>");
        h.Append("<div class=\"cards\">");
        foreach (var (name, id) in cards)
        {
            var node = plan?.Nodes.FirstOrDefault(n => n.NodeName == name);
            var d = Decision(decisions, name);
            Card(h, id, name, node, d, plan);
        }

        h.Append("</div></section>\n");
    }

    private static void Card(StringBuilder h, string id, string name, NodePlan? node, FactorizationDecision? d, BudgetPlan? plan)
    {
        var factorized = d?.Status == DecisionStatus.Factorized;
        var op = d?.OpType ?? node?.OpType ?? "";
        var meta = factorized
            ? $"{E(op)} · {E(d!.Method)} · rank {d.Rank}{(d.Ranks.Count > 1 ? $" ({string.Join("×", d.Ranks)})" : "")} · factorized"
            : $"{E(op)} · left as it is";
        h.Append(CultureInfo.InvariantCulture, $"<article class=\"node-card\" id=\"{id}\" data-node=\"{E(name)}\"><div class=\"info\"><h3>{Breakable(name)}</h3><p class=\"meta\">{meta}</p>");

        var paramsBefore = d?.ParamsBefore ?? node?.ParamsBefore ?? 0;
        var flopsBefore = d?.FlopsBefore is > 0 ? d.FlopsBefore : node?.FlopsBefore ?? 0;
        var paramsAfter = factorized ? d!.ParamsAfter : paramsBefore;
        var flopsAfter = factorized ? d!.FlopsAfter : flopsBefore;
        h.Append("<div class=\"compression\">");
        CompressionRow(h, "Params", paramsBefore, paramsAfter, "");
        if (flopsBefore > 0)
        {
            CompressionRow(h, "FLOPs", flopsBefore, flopsAfter, " flops");
        }

        h.Append("</div>");
        var reason = node?.Reason is { Length: > 0 } r ? r : d?.Reason ?? "";
        if (reason.Length > 0)
        {
            h.Append("<div class=\"why\">").Append(Reason(reason)).Append("</div>");
        }

        var chosen = node is null ? null : ChosenRung(node, d);
        h.Append("</div>");
        if (node is { Ladder.Count: > 0 } && plan is not null)
        {
            LadderChart(h, node, chosen, plan);
        }

        if (factorized && d!.SingularValues.Count > 0)
        {
            Spectrum(h, d);
        }

        if (node is { Ladder.Count: > 0 })
        {
            Rungs(h, node, chosen);
        }

        h.Append("</article>");
    }

    private static void CompressionRow(StringBuilder h, string label, long before, long after, string cls)
    {
        var f = Fraction(after, before);
        var saved = after > 0 && after < before ? $", {(double)before / after:0.#}× smaller" : "";
        h.Append(CultureInfo.InvariantCulture, $"<span>{label}</span><span class=\"kept{cls}\" title=\"{label} kept {Pct(f)}\"><i style=\"width:{Width(f)}\"></i></span><span>{N(before)} → {N(after)} ({Pct(f)} kept{saved})</span>");
    }

    // Error vs rank on a log scale: the budget's metric with only this node factorized, one series per method.
    private static void LadderChart(StringBuilder h, NodePlan node, LadderPoint? chosen, BudgetPlan plan)
    {
        const double W = 360, H = 220, L = 44, R = 12, T = 26, B = 34;
        var ladder = node.Ladder;
        var positive = ladder.Select(p => p.Error).Where(e => e > 0 && double.IsFinite(e)).Append(plan.Allowance).Where(e => e > 0).ToList();
        var hi = positive.Count == 0 ? 0 : (int)Math.Ceiling(Math.Log10(positive.Max()));
        var lo = positive.Count == 0 ? -1 : (int)Math.Floor(Math.Log10(positive.Min()));
        lo = Math.Max(Math.Min(lo, hi - 1), hi - 8);
        var maxRank = Math.Max(1, ladder.Max(p => p.Rank));
        double X(double rank) => L + ((W - L - R) * rank / maxRank);
        double Y(double e) => !double.IsFinite(e) ? T : T + ((H - T - B) * (hi - Math.Log10(Math.Max(e, Math.Pow(10, lo)))) / (hi - lo));

        h.Append(CultureInfo.InvariantCulture, $"<figure><svg class=\"ladder\" data-node=\"{E(node.NodeName)}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"ladder of {E(node.NodeName)}: {E(MetricName(plan.Metric))} vs rank per method\">");
        var step = Math.Max(1, (int)Math.Ceiling((hi - lo) / 5.0));
        for (var k = hi; k >= lo; k -= step)
        {
            var y = Y(Math.Pow(10, k));
            h.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{L}\" y1=\"{y:0.##}\" x2=\"{W - R}\" y2=\"{y:0.##}\"/><text x=\"{L - 4}\" y=\"{y + 4:0.##}\" text-anchor=\"end\">{Decade(k)}</text>");
        }

        h.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{L}\" y1=\"{H - B}\" x2=\"{W - R}\" y2=\"{H - B}\"/><line class=\"axis\" x1=\"{L}\" y1=\"{T}\" x2=\"{L}\" y2=\"{H - B}\"/>");
        foreach (var tick in new[] { 0, maxRank / 2, maxRank }.Distinct())
        {
            h.Append(CultureInfo.InvariantCulture, $"<text x=\"{X(tick):0.##}\" y=\"{H - B + 14}\" text-anchor=\"middle\">{tick}</text>");
        }

        h.Append(CultureInfo.InvariantCulture, $"<text x=\"{(L + W - R) / 2}\" y=\"{H - 4}\" text-anchor=\"middle\">rank</text>");
        if (plan.Allowance > 0)
        {
            var y = Y(plan.Allowance);
            h.Append(CultureInfo.InvariantCulture, $"<line class=\"limit\" x1=\"{L}\" y1=\"{y:0.##}\" x2=\"{W - R}\" y2=\"{y:0.##}\"/><text x=\"{W - R}\" y=\"{y - 4:0.##}\" text-anchor=\"end\" style=\"fill:#c62828\">budget {G(plan.Allowance)}</text>");
        }

        // Legend across the top: each method's marker and name with its rung count.
        var legendX = 4.0;
        var groups = ladder.GroupBy(p => p.Method).OrderBy(g => StyleIndex(g.Key)).ToList();
        foreach (var g in groups)
        {
            var label = $"{(g.Key.Length > 0 ? g.Key : "unknown")} ({g.Count()})";
            Marker(h, g.Key, legendX + 5, 10);
            h.Append(CultureInfo.InvariantCulture, $"<text x=\"{legendX + 13:0.##}\" y=\"14\">{E(label)}</text>");
            legendX += 26 + (6.2 * label.Length);
        }

        foreach (var g in groups)
        {
            var points = g.OrderBy(p => p.Rank).ToList();
            var (_, _, color) = Style(g.Key);
            h.Append("<g class=\"series\" data-method=\"").Append(E(g.Key)).Append("\"><polyline stroke=\"").Append(color).Append("\" points=\"");
            foreach (var p in points)
            {
                h.Append(CultureInfo.InvariantCulture, $"{X(p.Rank):0.##},{Y(p.Error):0.##} ");
            }

            h.Append("\"/>");
            foreach (var p in points)
            {
                Marker(h, g.Key, X(p.Rank), Y(p.Error), RungTitle(p));
            }

            h.Append("</g>");
        }

        if (chosen is not null)
        {
            h.Append(CultureInfo.InvariantCulture, $"<circle class=\"chosen-rung rank-marker\" data-rank=\"{chosen.Rank}\" data-method=\"{E(chosen.Method)}\" cx=\"{X(chosen.Rank):0.##}\" cy=\"{Y(chosen.Error):0.##}\" r=\"7\"><title>chosen: {E(RungTitle(chosen))}</title></circle>");
        }

        var pick = chosen is null ? "no rung chosen" : $"ring: chosen {E(chosen.Method)} rank {chosen.Rank}, error {G(chosen.Error)}";
        h.Append(CultureInfo.InvariantCulture, $"</svg><figcaption>Ladder: {E(MetricName(plan.Metric))} with only this node factorized vs rank (Tucker-2: output rank); {pick}</figcaption></figure>");
    }

    // The measured rungs as a table, collapsed: the exact numbers behind the ladder plot.
    private static void Rungs(StringBuilder h, NodePlan node, LadderPoint? chosen)
    {
        h.Append(CultureInfo.InvariantCulture, $"<details class=\"rungs\"><summary>{node.Ladder.Count} measured rung(s)</summary><div class=\"scroll\"><table class=\"sortable\"><thead><tr><th class=\"text\">Method</th><th>Rank</th><th>Error</th><th>Weight rel. error</th><th>Params</th><th>FLOPs</th><th>Speedup</th></tr></thead><tbody>");
        foreach (var p in node.Ladder)
        {
            var mark = ReferenceEquals(p, chosen) ? " class=\"chosen\" style=\"font-weight:bold\"" : "";
            var ranks = p.Ranks.Count > 1 ? $" ({string.Join("×", p.Ranks)})" : "";
            h.Append(CultureInfo.InvariantCulture, $"<tr{mark}><td class=\"text\">{E(p.Method)}</td><td class=\"num\" data-v=\"{p.Rank}\">{p.Rank}{ranks}</td><td class=\"num\" data-v=\"{V(p.Error)}\">{G(p.Error)}</td><td class=\"num\" data-v=\"{V(p.WeightRelError)}\">{G(p.WeightRelError)}</td><td class=\"num\" data-v=\"{p.Params}\">{N(p.Params)}</td><td class=\"num\" data-v=\"{p.Flops}\">{N(p.Flops)}</td><td class=\"num\" data-v=\"{(p.Speedup is { } s ? V(s) : "")}\">{(p.Speedup is { } sp ? $"{sp:0.00}×" : "-")}</td></tr>");
        }

        h.Append("</tbody></table></div></details>");
    }

    // Singular values on a log scale, normalized to σ₁, with the chosen rank marked (Eckart–Young: the tail beyond it is the error).
    private static void Spectrum(StringBuilder h, FactorizationDecision d)
    {
        const double W = 320, H = 220, L = 40, B = 25, T = 10, R = 10;
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
            var right = x < W - 60;
            h.Append(CultureInfo.InvariantCulture, $"<line class=\"rank-marker\" data-rank=\"{d.Rank}\" x1=\"{x:0.##}\" y1=\"{T}\" x2=\"{x:0.##}\" y2=\"{H - B}\"/><text x=\"{(right ? x + 3 : x - 3):0.##}\" y=\"{T + 10}\" text-anchor=\"{(right ? "start" : "end")}\">rank {d.Rank}</text>");
        }

        h.Append(CultureInfo.InvariantCulture, $"</svg><figcaption>σ/σ₁ of the weight ({E(d.Method)}), rank {d.Rank} of {s.Count}</figcaption></figure>");
    }

    private static void Marker(StringBuilder h, string method, double x, double y, string? title = null)
    {
        var (_, shape, color) = Style(method);
        var t = title is null ? "" : $"<title>{E(title)}</title>";
        var ic = CultureInfo.InvariantCulture;
        _ = shape switch
        {
            "circle" => h.Append(ic, $"<circle cx=\"{x:0.##}\" cy=\"{y:0.##}\" r=\"3.5\" fill=\"{color}\">{t}</circle>"),
            "square" => h.Append(ic, $"<rect x=\"{x - 3.5:0.##}\" y=\"{y - 3.5:0.##}\" width=\"7\" height=\"7\" fill=\"{color}\">{t}</rect>"),
            "triangle" => h.Append(ic, $"<path d=\"M{x:0.##} {y - 4.5:0.##}L{x + 4:0.##} {y + 3:0.##}L{x - 4:0.##} {y + 3:0.##}Z\" fill=\"{color}\">{t}</path>"),
            "diamond" => h.Append(ic, $"<path d=\"M{x:0.##} {y - 4.5:0.##}L{x + 4.5:0.##} {y:0.##}L{x:0.##} {y + 4.5:0.##}L{x - 4.5:0.##} {y:0.##}Z\" fill=\"{color}\">{t}</path>"),
            _ => h.Append(ic, $"<path d=\"M{x - 3.5:0.##} {y - 3.5:0.##}L{x + 3.5:0.##} {y + 3.5:0.##}M{x - 3.5:0.##} {y + 3.5:0.##}L{x + 3.5:0.##} {y - 3.5:0.##}\" stroke=\"{color}\" stroke-width=\"1.5\">{t}</path>"),
        };
    }

    private static string RungTitle(LadderPoint p)
    {
        var ranks = p.Ranks.Count > 1 ? $" ({string.Join("×", p.Ranks)})" : "";
        var speed = p.Speedup is { } s ? $", node {s:0.00}× {(s >= 1 ? "faster" : "slower")}" : "";
        return string.Create(CultureInfo.InvariantCulture, $"{p.Method} rank {p.Rank}{ranks}: error {G(p.Error)}, weight error {G(p.WeightRelError)}, params {N(p.Params)}, FLOPs {N(p.Flops)}{speed}");
    }

    private static (string Method, string Shape, string Color) Style(string method) =>
        MethodStyles.FirstOrDefault(s => s.Method == method, (Method: method, Shape: "cross", Color: "#666"));

    private static int StyleIndex(string method)
    {
        var i = Array.FindIndex(MethodStyles, s => s.Method == method);
        return i < 0 ? MethodStyles.Length : i;
    }

    private static string MetricName(BudgetMetric metric) => metric switch
    {
        BudgetMetric.AccuracyDrop => "accuracy drop (points)",
        BudgetMetric.Top1Agreement => "1 − top-1 agreement",
        _ => "relative L2 error",
    };

    private static string Decade(int k) => k >= -3 ? Math.Pow(10, k).ToString("0.###", CultureInfo.InvariantCulture) : $"1e{k}";
}
