using System.Text.Json;
using System.Text.RegularExpressions;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Optimization;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Reports;
using OnnxFactorize.Tests.Planning;
using OnnxFactorize.Tests.Support;
using OnnxFactorize.Tests.Validation;
using OnnxFactorize.Validation;
using static OnnxFactorize.Tests.Graph.GraphBuilder;

namespace OnnxFactorize.Tests.Reports;

/// <summary>The HTML report in a real headless Chromium at a 1280 px laptop width: nothing wider than the window, long
/// reasons collapsed, the node table sorted by a click, and each node's ladder plotted per method.</summary>
public sealed class HtmlReportLayoutTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_long_budget_report_with_exporter_names_and_long_reasons_fits_1280_px()
    {
        var (decisions, plan) = SampleResults.LongBudgetReport();
        var html = HtmlReport.Render(SampleResults.Failed(), plan, decisions);

        var probe = HeadlessChromium.Probe(html, HeadlessChromium.LayoutScript, _dir.Path);

        AssertFits(probe);
        // Reasons are collapsed to their first words, so no row grows into a 15-line cell (~300 px); the tallest row is
        // the one whose 120-character name has no break opportunity and wraps into 7 lines.
        Assert.Equal(0, probe.GetProperty("openReasons").GetInt32());
        Assert.True(probe.GetProperty("reasons").GetInt32() >= 96, probe.ToString());
        Assert.InRange(probe.GetProperty("tallestNodeRow").GetDouble(), 1, 140);
        Assert.InRange(probe.GetProperty("tallestPlanRow").GetDouble(), 1, 140);
    }

    [Theory]
    [InlineData("cnn-budget")]
    [InlineData("cnn-energy")]
    [InlineData("exporter-names-budget")]
    public void A_real_optimize_report_fits_1280_px(string which)
    {
        var request = which switch
        {
            "cnn-budget" => Request(Path.Combine(RepoPaths.TestModels, "cnn.onnx"), budget: true),
            "cnn-energy" => Request(Path.Combine(RepoPaths.TestModels, "cnn.onnx"), budget: false),
            _ => Request(ExporterNamedModel(), budget: true),
        };

        Optimizer.Run(request);
        var html = File.ReadAllText(request.HtmlReportPath!);
        var probe = HeadlessChromium.Probe(html, HeadlessChromium.LayoutScript, _dir.Path);

        AssertFits(probe);
        Assert.InRange(probe.GetProperty("tallestNodeRow").GetDouble(), 1, 110);
        if (request.Budget is not null)
        {
            Assert.Contains("class=\"ladder\"", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Clicking_a_header_sorts_the_node_table_and_clicking_a_reason_opens_it()
    {
        var (decisions, plan) = SampleResults.LongBudgetReport();
        var html = HtmlReport.Render(SampleResults.Failed(), plan, decisions);
        const string Script = """
            var t=document.querySelector('#nodes table');
            function header(text){return Array.prototype.find.call(t.tHead.rows[0].cells,function(c){return c.textContent.indexOf(text)===0;});}
            function order(){return Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.getAttribute('data-node');});}
            var kept=header('Kept'),node=header('Node');
            var before=order();
            kept.dispatchEvent(new MouseEvent('click',{bubbles:true}));var asc=order(),ascSort=kept.getAttribute('aria-sort');
            kept.dispatchEvent(new MouseEvent('click',{bubbles:true}));var desc=order(),descSort=kept.getAttribute('aria-sort');
            node.dispatchEvent(new MouseEvent('click',{bubbles:true}));var byName=order();
            var d=document.querySelector('#nodes details.reason'),wasOpen=d.open,closed=d.getBoundingClientRect().height;
            d.querySelector('summary').dispatchEvent(new MouseEvent('click',{bubbles:true}));
            window.probe={before:before,asc:asc,desc:desc,byName:byName,ascSort:ascSort,descSort:descSort,wasOpen:wasOpen,closed:closed,opened:d.getBoundingClientRect().height,open:d.open};
            """;

        var probe = HeadlessChromium.Probe(html, Script, _dir.Path);

        static string[] Names(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetString()!)];
        var kept = decisions.ToDictionary(d => d.NodeName, d => (double)d.ParamsAfter / d.ParamsBefore);
        Assert.Equal(decisions.Select(d => d.NodeName), Names(probe.GetProperty("before")));
        Assert.Equal(decisions.OrderBy(d => kept[d.NodeName]).Select(d => d.NodeName), Names(probe.GetProperty("asc")));
        Assert.Equal(decisions.OrderByDescending(d => kept[d.NodeName]).Select(d => d.NodeName), Names(probe.GetProperty("desc")));
        Assert.Equal(decisions.Select(d => d.NodeName).Order(StringComparer.OrdinalIgnoreCase), Names(probe.GetProperty("byName")), StringComparer.OrdinalIgnoreCase);
        Assert.Equal("ascending", probe.GetProperty("ascSort").GetString());
        Assert.Equal("descending", probe.GetProperty("descSort").GetString());
        Assert.False(probe.GetProperty("wasOpen").GetBoolean());
        Assert.True(probe.GetProperty("open").GetBoolean());
        Assert.True(probe.GetProperty("opened").GetDouble() > probe.GetProperty("closed").GetDouble() + 40, probe.ToString());
    }

    [Fact]
    public void Each_ladder_plots_one_labeled_series_per_method_with_the_budget_and_the_chosen_rung()
    {
        var (decisions, plan) = SampleResults.LongBudgetReport();
        var html = HtmlReport.Render(SampleResults.Failed(), plan, decisions);

        var ladders = Regex.Matches(html, "<svg class=\"ladder\".*?</svg>", RegexOptions.Singleline);
        Assert.Equal(plan.Nodes.Count(n => n.Ladder.Count > 0), ladders.Count);
        foreach (var (node, svg) in plan.Nodes.Where(n => n.Ladder.Count > 0).Zip(ladders.Select(m => m.Value)))
        {
            foreach (var g in node.Ladder.GroupBy(p => p.Method))
            {
                // One series per method, its name in the legend with its rung count, one marker per rung with a tooltip naming the method.
                Assert.Contains($"<g class=\"series\" data-method=\"{g.Key}\">", svg, StringComparison.Ordinal);
                Assert.Contains($">{g.Key} ({g.Count()})</text>", svg, StringComparison.Ordinal);
                Assert.Equal(g.Count(), Regex.Matches(svg, $"<title>{Regex.Escape(g.Key)} rank ").Count);
            }

            Assert.Equal(node.Ladder.Select(p => p.Method).Distinct().Count(), Regex.Matches(svg, "<g class=\"series\"").Count);
            Assert.Contains(">budget 0.05</text>", svg, StringComparison.Ordinal);
            Assert.Equal(node.ChosenRank > 0 ? 1 : 0, Regex.Matches(svg, "class=\"chosen-rung rank-marker\"").Count);
        }

        // The chosen rung is the one with the rank and method the node was factorized with.
        var d0 = decisions[0];
        var chosen = plan.Nodes[0].Ladder[3];
        Assert.Contains($"data-rank=\"{chosen.Rank}\" data-method=\"{chosen.Method}\"", ladders[0].Value, StringComparison.Ordinal);
        Assert.Equal(DecisionStatus.Factorized, d0.Status);
    }

    [Fact]
    public void Each_node_card_shows_params_and_flops_before_and_after_with_the_fraction_kept()
    {
        var html = HtmlReport.Render(SampleResults.Failed(), decisions: SampleResults.Decisions);

        var card = Regex.Match(html, "<article class=\"node-card\" id=\"node-1\" data-node=\"fc1\">.*?</article>", RegexOptions.Singleline).Value;
        Assert.Contains("2,048 → 768 (38\u00A0% kept, 2.7× smaller)", card, StringComparison.Ordinal);
        Assert.Contains("4,096 → 1,536 (38\u00A0% kept, 2.7× smaller)", card, StringComparison.Ordinal);
        Assert.Contains("<i style=\"width:37.5%\">", card, StringComparison.Ordinal);
        Assert.Contains("class=\"spectrum\"", card, StringComparison.Ordinal);
        // The skipped node has no card (nothing measured, nothing factorized) and its row does not link to one.
        Assert.DoesNotContain("data-node=\"head\"><div", html, StringComparison.Ordinal);
        Assert.Contains("<tr class=\"skipped\" data-node=\"head\"><td class=\"name\">head</td>", html, StringComparison.Ordinal);
    }

    private static void AssertFits(JsonElement probe)
    {
        var scroll = probe.GetProperty("scrollWidth").GetInt32();
        var client = probe.GetProperty("clientWidth").GetInt32();
        Assert.True(scroll <= client, $"the page is {scroll} px wide in a {client} px window: {probe}");
        Assert.True(probe.GetProperty("outside").GetArrayLength() == 0, $"elements past the window's right edge: {probe.GetProperty("outside")}");
    }

    private OptimizeRequest Request(string model, bool budget) => new()
    {
        ModelPath = model,
        OutputPath = _dir.File($"{Path.GetFileNameWithoutExtension(model)}-{budget}.onnx"),
        Budget = budget ? new BudgetOptions { MaxError = 0.05, CacheDirectory = null, LatencyGuard = false, Inputs = new InputOptions { RandomSamples = 2, Seed = 1 } } : null,
        Validation = new ValidationOptions { Latency = null, Inputs = new InputOptions { RandomSamples = 2 } },
        HtmlReportPath = _dir.File($"{Path.GetFileNameWithoutExtension(model)}-{budget}.html"),
    };

    // Attention-like block named the way torch.onnx names nodes (long /module/path/Op names), with one MatMul of two
    // activations that is skipped ("neither operand is a constant weight").
    private string ExporterNamedModel()
    {
        const int W = PlanningModels.Width;
        var graph = new GraphProto { Name = "exporter_named" };
        graph.Input.Add(FloatInfo("x", 8, W));
        graph.Output.Add(FloatInfo("y", 8, W));
        string[] weights = ["query", "key", "value", "out"];
        for (var i = 0; i < weights.Length; i++)
        {
            graph.Initializer.Add(Tensor($"onnx::MatMul_{weights[i]}", [W, W], PlanningModels.Decaying(i + 1)));
        }

        const string P = "/transformer_encoder_layers.0/self_attention";
        graph.Node.Add(Node("MatMul", $"{P}/query_projection/MatMul", ["x", "onnx::MatMul_query"], ["q"]));
        graph.Node.Add(Node("MatMul", $"{P}/key_projection/MatMul", ["x", "onnx::MatMul_key"], ["k"]));
        graph.Node.Add(Node("MatMul", $"{P}/value_projection/MatMul", ["x", "onnx::MatMul_value"], ["v"]));
        graph.Node.Add(Node("Transpose", $"{P}/Transpose", ["k"], ["kt"], Ints("perm", 1, 0)));
        graph.Node.Add(Node("MatMul", $"{P}/MatMul", ["q", "kt"], ["scores"]));
        graph.Node.Add(Node("Softmax", $"{P}/Softmax", ["scores"], ["attn"], Int("axis", -1)));
        graph.Node.Add(Node("MatMul", $"{P}/MatMul_1", ["attn", "v"], ["ctx"]));
        graph.Node.Add(Node("MatMul", $"{P}/output_dense_projection/MatMul", ["ctx", "onnx::MatMul_out"], ["y"]));
        var path = _dir.File("exporter_named.onnx");
        OnnxModel.FromProto(Model(graph)).Save(path);
        return path;
    }
}
