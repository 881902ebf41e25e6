using System.Globalization;
using System.Text;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;

namespace OnnxFactorize.Reports;

// The node tables: sortable by clicking a header, long reasons collapsed, names that wrap instead of widening the page.
public static partial class HtmlReport
{
    // Reasons up to this many characters are shown whole; longer ones show their start and open on a click.
    private const int ShortReason = 72;

    // Sorts a table.sortable by the clicked column: numbers by data-v, text by its content; a second click reverses.
    private const string SortScript = """
        (function(){
        function key(row,i){var c=row.cells[i];var v=c.getAttribute('data-v');return v===null?c.textContent.trim():v;}
        function num(v){return v!==''&&!isNaN(Number(v));}
        function sortBy(table,th,i){
          var asc=th.getAttribute('aria-sort')!=='ascending';
          Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
          th.setAttribute('aria-sort',asc?'ascending':'descending');
          var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
          rows.sort(function(x,y){var a=key(x,i),b=key(y,i);var d=num(a)&&num(b)?Number(a)-Number(b):a.localeCompare(b);return asc?d:-d;});
          rows.forEach(function(r){body.appendChild(r);});
        }
        document.querySelectorAll('table.sortable').forEach(function(table){
          Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
            th.tabIndex=0;th.title='sort by '+th.textContent;
            th.addEventListener('click',function(){sortBy(table,th,i);});
            th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sortBy(table,th,i);}});
          });
        });
        })();
        """;

    private static void Nodes(StringBuilder h, IReadOnlyList<FactorizationDecision> decisions, IReadOnlyDictionary<string, string> cards)
    {
        h.Append("<section id=\"nodes\"><h2>Nodes</h2>");
        if (decisions.Count == 0)
        {
            h.Append("<p>No factorization decisions recorded.</p></section>\n");
            return;
        }

        var factorized = decisions.Count(d => d.Status == DecisionStatus.Factorized);
        h.Append(CultureInfo.InvariantCulture, $"<p>{factorized} of {decisions.Count} node(s) factorized. Click a column header to sort; click a reason to read it whole; a node name links to its plots.</p>");
        h.Append("<div class=\"scroll\"><table class=\"sortable wide\"><thead><tr><th>Node</th><th class=\"text\">Op</th><th class=\"text\">Method</th><th>Rank</th>"
            + "<th>Params before → after</th><th>FLOPs before → after</th><th>Kept (params, FLOPs)</th><th>Weight rel. error</th><th class=\"text\">Status</th><th class=\"text\">Reason</th></tr></thead><tbody>");
        foreach (var d in decisions)
        {
            var status = d.Status == DecisionStatus.Factorized ? "factorized" : "skipped";
            var ranks = d.Ranks.Count > 1 ? $" ({string.Join("×", d.Ranks)})" : "";
            h.Append(CultureInfo.InvariantCulture, $"<tr class=\"{status}\" data-node=\"{E(d.NodeName)}\"><td class=\"name\">{NodeLink(d.NodeName, cards)}</td><td class=\"text\">{E(d.OpType)}</td><td class=\"text\">{E(d.Method)}</td>");
            h.Append(CultureInfo.InvariantCulture, $"<td class=\"num\" data-v=\"{d.Rank}\">{d.Rank}{ranks}</td>");
            h.Append(CultureInfo.InvariantCulture, $"<td class=\"num\" data-v=\"{d.ParamsBefore}\">{N(d.ParamsBefore)} → {N(d.ParamsAfter)}</td>");
            h.Append(CultureInfo.InvariantCulture, $"<td class=\"num\" data-v=\"{d.FlopsBefore}\">{(d.FlopsBefore > 0 ? $"{N(d.FlopsBefore)} → {N(d.FlopsAfter)}" : "-")}</td>");
            h.Append(CultureInfo.InvariantCulture, $"<td class=\"num\" data-v=\"{V(Fraction(d.ParamsAfter, d.ParamsBefore))}\">{(d.Status == DecisionStatus.Factorized ? KeptBars(d.ParamsBefore, d.ParamsAfter, d.FlopsBefore, d.FlopsAfter) : "-")}</td>");
            h.Append(CultureInfo.InvariantCulture, $"<td class=\"num\" data-v=\"{V(d.WeightRelError)}\">{(d.Status == DecisionStatus.Factorized ? G(d.WeightRelError) : "-")}</td><td class=\"text status-{status}\">{status}</td>");
            ReasonCell(h, d.Reason);
            h.Append("</tr>");
        }

        h.Append("</tbody></table></div></section>\n");
    }

    private static void Plan(StringBuilder h, BudgetPlan? plan, IReadOnlyList<FactorizationDecision> decisions, IReadOnlyDictionary<string, string> cards)
    {
        if (plan is null)
        {
            return;
        }

        var chosen = plan.Nodes.Count(n => n.ChosenRank > 0);
        h.Append(CultureInfo.InvariantCulture, $"<section id=\"plan\"><h2>Budget plan</h2><p>{E(plan.Budget)}, target {E(plan.Target.ToString().ToLowerInvariant())}: measured error {G(plan.FinalError)} on {plan.SampleCount} calibration sample(s); {chosen} of {plan.Nodes.Count} candidate node(s) factorized. Each node's ladder (error vs rank per method) is plotted under <a href=\"#per-node\">Per node</a>.</p>");
        if (plan.Verifications.Count > 0)
        {
            h.Append("<details id=\"verifications\"><summary>").Append(plan.Verifications.Count.ToString(CultureInfo.InvariantCulture))
                .Append(" end-to-end verification(s)</summary><div class=\"scroll\"><table><thead><tr><th>#</th><th>Estimated</th><th>Measured</th><th>Objective</th><th class=\"text\">Then</th></tr></thead><tbody>");
            foreach (var v in plan.Verifications)
            {
                h.Append(CultureInfo.InvariantCulture, $"<tr><td>{v.Iteration}</td><td>{G(v.Estimated)}</td><td>{G(v.Measured)}</td><td>{G(v.Objective)}</td><td class=\"text\">{E(v.Action)}</td></tr>");
            }

            h.Append("</tbody></table></div></details>");
        }

        var measured = plan.Nodes.Where(n => n.Ladder.Count > 0).ToList();
        if (measured.Count < plan.Nodes.Count)
        {
            h.Append(CultureInfo.InvariantCulture, $"<p>{plan.Nodes.Count - measured.Count} candidate node(s) had nothing to measure; the Nodes table says why.</p>");
        }

        h.Append("<div class=\"scroll\"><table id=\"plan-nodes\" class=\"sortable wide\"><thead><tr><th>Node</th><th class=\"text\">Rungs measured (per method)</th><th>Chosen rank</th><th class=\"text\">Chosen method</th><th>Error alone at chosen rank</th><th class=\"text\">Why</th></tr></thead><tbody>");
        foreach (var n in measured)
        {
            var perMethod = string.Join(", ", n.Ladder.GroupBy(p => p.Method).Select(g => $"{(g.Key.Length > 0 ? g.Key : "?")} {g.Count()}"));
            var rung = ChosenRung(n, Decision(decisions, n.NodeName));
            h.Append(CultureInfo.InvariantCulture, $"<tr data-node=\"{E(n.NodeName)}\"><td class=\"name\">{NodeLink(n.NodeName, cards)}</td><td class=\"text\" data-v=\"{n.Ladder.Count}\">{n.Ladder.Count}: {E(perMethod)}</td>");
            h.Append(CultureInfo.InvariantCulture, $"<td class=\"num\" data-v=\"{n.ChosenRank}\">{(n.ChosenRank > 0 ? n.ChosenRank.ToString(CultureInfo.InvariantCulture) : "–")}</td><td class=\"text\">{E(rung?.Method ?? "")}</td>");
            h.Append(CultureInfo.InvariantCulture, $"<td class=\"num\" data-v=\"{(rung is null ? "" : V(rung.Error))}\">{(rung is null ? "–" : G(rung.Error))}</td>");
            ReasonCell(h, n.Reason);
            h.Append("</tr>");
        }

        h.Append("</tbody></table></div></section>\n");
    }

    // A reason short enough to read at a glance is shown as it is; a longer one shows its first words and opens on a click.
    private static void ReasonCell(StringBuilder h, string reason) =>
        h.Append("<td class=\"text reason\" data-v=\"").Append(E(reason)).Append("\">").Append(Reason(reason)).Append("</td>");

    // A reason short enough to read at a glance is shown as it is; a longer one shows its first words and opens on a click.
    private static string Reason(string reason)
    {
        if (reason.Length <= ShortReason)
        {
            return E(reason);
        }

        var cut = reason.LastIndexOf(' ', ShortReason - 12);
        var head = reason[..(cut > 20 ? cut : ShortReason - 12)].TrimEnd(',', ';', ':', ' ');
        return $"<details class=\"reason\"><summary>{E(head)} …</summary><p>{E(reason)}</p></details>";
    }

    // Two thin bars: the fraction of parameters (blue) and FLOPs (purple) the factorized node keeps.
    private static string KeptBars(long paramsBefore, long paramsAfter, long flopsBefore, long flopsAfter)
    {
        var p = Fraction(paramsAfter, paramsBefore);
        var f = Fraction(flopsAfter, flopsBefore);
        if (paramsBefore <= 0)
        {
            return "-";
        }

        var text = $"{Pct(p)} · {(flopsBefore > 0 ? Pct(f) : "-")}";
        return $"{text}<span class=\"kept\" title=\"params kept {Pct(p)}\"><i style=\"width:{Width(p)}\"></i></span>"
            + (flopsBefore > 0 ? $"<span class=\"kept flops\" title=\"FLOPs kept {Pct(f)}\"><i style=\"width:{Width(f)}\"></i></span>" : "");
    }

    // The node's name, linked to its plots when it has any; breaks are allowed after / . _ so long exporter names wrap.
    private static string NodeLink(string name, IReadOnlyDictionary<string, string> cards)
    {
        var text = Breakable(name);
        return cards.TryGetValue(name, out var id) ? $"<a href=\"#{id}\">{text}</a>" : text;
    }

    private static string Breakable(string name)
    {
        var s = new StringBuilder();
        foreach (var c in name)
        {
            s.Append(E(c.ToString()));
            if (c is '/' or '.' or '_' or ':')
            {
                s.Append("<wbr>");
            }
        }

        return s.ToString();
    }

    // Ids of the per-node cards: a node gets one when it has a measured ladder or was factorized.
    private static Dictionary<string, string> CardIds(BudgetPlan? plan, IReadOnlyList<FactorizationDecision> decisions)
    {
        var ids = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = (plan?.Nodes.Where(n => n.Ladder.Count > 0).Select(n => n.NodeName) ?? [])
            .Concat(decisions.Where(d => d.Status == DecisionStatus.Factorized).Select(d => d.NodeName));
        foreach (var name in names)
        {
            ids.TryAdd(name, $"node-{ids.Count + 1}");
        }

        return ids;
    }

    // The rung the plan chose: the same rank, and where two methods measured that rank, the method (and ranks) emitted.
    private static LadderPoint? ChosenRung(NodePlan n, FactorizationDecision? d)
    {
        if (n.ChosenRank <= 0)
        {
            return null;
        }

        var same = n.Ladder.Where(p => p.Rank == n.ChosenRank).ToList();
        return d is null ? same.FirstOrDefault()
            : same.FirstOrDefault(p => p.Method == d.Method && p.Ranks.SequenceEqual(d.Ranks)) ?? same.FirstOrDefault(p => p.Method == d.Method) ?? same.FirstOrDefault();
    }

    private static FactorizationDecision? Decision(IReadOnlyList<FactorizationDecision> decisions, string name) =>
        decisions.FirstOrDefault(d => d.NodeName == name && d.Status == DecisionStatus.Factorized) ?? decisions.FirstOrDefault(d => d.NodeName == name);

    private static double Fraction(long after, long before) => before > 0 ? (double)after / before : 1;

    // A no-break space keeps the number and its % on one line.
    private static string Pct(double fraction) => (fraction * 100).ToString(fraction < 0.1 ? "0.0" : "0", CultureInfo.InvariantCulture) + "\u00A0%";

    private static string Width(double fraction) => (Math.Clamp(fraction, 0, 1) * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    private static string V(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);
}
