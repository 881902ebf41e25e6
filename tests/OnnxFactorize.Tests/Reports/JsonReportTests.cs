using System.Text.Json;
using OnnxFactorize.Reports;

namespace OnnxFactorize.Tests.Reports;

public class JsonReportTests
{
    [Fact]
    public void Report_is_versioned_camel_case_and_carries_every_documented_field()
    {
        using var stream = new MemoryStream();
        JsonReport.Write(stream, new ReportSummary("m.onnx", "o.onnx", "energy 0.99", 250_000, 100_000, "2 of 3 node(s) factorized"), SampleResults.Decisions, SampleResults.Failed(), null);
        using var doc = JsonDocument.Parse(stream.ToArray());
        var root = doc.RootElement;

        Assert.Equal(1, root.GetProperty("schemaVersion").GetInt32());
        Assert.True(root.GetProperty("validated").GetBoolean());
        Assert.Equal(2, root.GetProperty("summary").GetProperty("nodesFactorized").GetInt32());
        Assert.False(root.GetProperty("passed").GetBoolean());
        var model = root.GetProperty("model");
        Assert.Equal(250_000, model.GetProperty("paramsBefore").GetInt64());
        Assert.Equal(100_000, model.GetProperty("paramsAfter").GetInt64());
        Assert.Equal(1_500_000, model.GetProperty("flopsAfter").GetInt64());
        Assert.Equal(400_000, model.GetProperty("bytesAfter").GetInt64());

        var node = root.GetProperty("nodes")[0];
        foreach (var key in new[] { "name", "op", "method", "rank", "paramsBefore", "paramsAfter", "flopsBefore", "flopsAfter", "weightRelError", "status", "reason" })
        {
            Assert.True(node.TryGetProperty(key, out _), $"node lacks {key}");
        }

        Assert.Equal("factorized", node.GetProperty("status").GetString());
        Assert.Equal("skipped", root.GetProperty("nodes")[2].GetProperty("status").GetString());

        var logits = root.GetProperty("outputs")[0];
        Assert.Equal(0.021, logits.GetProperty("relL2Error").GetDouble());
        Assert.Equal(0.75, logits.GetProperty("top1Agreement").GetDouble());
        Assert.Equal(25.0, logits.GetProperty("accuracyDrop").GetDouble(), 9);
        var features = root.GetProperty("outputs")[1];
        Assert.Equal("Infinity", features.GetProperty("relL2Error").GetString());
        Assert.Equal(JsonValueKind.Null, features.GetProperty("top1Agreement").ValueKind);
        Assert.Equal(2, features.GetProperty("nonFiniteOptimized").GetInt64());

        var latency = root.GetProperty("latency");
        Assert.Equal(4.0, latency.GetProperty("originalMedianMs").GetDouble());
        Assert.Equal(2.0, latency.GetProperty("speedup").GetDouble());
        Assert.Equal(2.4, latency.GetProperty("optimizedP90Ms").GetDouble());

        Assert.Equal(0.01, root.GetProperty("thresholds").GetProperty("maxRelL2Error").GetDouble());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("thresholds").GetProperty("minCosine").ValueKind);
        Assert.Equal("explicit", root.GetProperty("thresholdSources").GetProperty("maxRelL2Error").GetString());
        Assert.Equal("fail", root.GetProperty("verdict").GetString());
        Assert.Equal(1.8, latency.GetProperty("speedupCiLow").GetDouble());
        Assert.True(latency.GetProperty("speedupSignificant").GetBoolean());
        var failure = root.GetProperty("failures")[0];
        Assert.Equal("logits", failure.GetProperty("output").GetString());
        Assert.Equal(0.011, failure.GetProperty("excess").GetDouble(), 9);
    }

    [Fact]
    public void Unchecked_results_are_not_passed_and_defaults_are_marked()
    {
        var none = SampleResults.Failed() with { Thresholds = new(), Failures = [] };
        using var a = JsonDocument.Parse(JsonReport.Serialize(none));
        Assert.False(a.RootElement.GetProperty("passed").GetBoolean());
        Assert.Equal("unchecked", a.RootElement.GetProperty("verdict").GetString());

        var defaults = none with { Thresholds = new OnnxFactorize.Validation.ValidationThresholds().WithDefaults() };
        using var b = JsonDocument.Parse(JsonReport.Serialize(defaults));
        Assert.True(b.RootElement.GetProperty("passed").GetBoolean());
        Assert.Equal("default", b.RootElement.GetProperty("thresholdSources").GetProperty("minCosine").GetString());
    }

    [Fact]
    public void Every_top_level_key_is_documented_in_the_schema_file()
    {
        var schema = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "report-schema.md"));
        var keys = new List<string>();
        var summary = new ReportSummary("m.onnx", "o.onnx", "energy 0.99", 250_000, 100_000, "2 of 3 node(s) factorized");
        foreach (var validation in new[] { SampleResults.Failed(), null })
        {
            using var stream = new MemoryStream();
            JsonReport.Write(stream, summary, SampleResults.Decisions, validation, null);
            using var doc = JsonDocument.Parse(stream.ToArray());
            Collect(doc.RootElement, keys);
        }

        Assert.Contains("nodesFactorized", keys);
        Assert.Contains("weightRelError", keys);

        Assert.All(keys.Distinct(), k => Assert.Contains($"`{k}`", schema, StringComparison.Ordinal));
    }

    internal static string RepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "OnnxFactorize.sln")))
        {
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("repository root not found");
        }

        return dir;
    }

    private static void Collect(JsonElement e, List<string> keys)
    {
        if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                keys.Add(p.Name);
                Collect(p.Value, keys);
            }
        }
        else if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray())
            {
                Collect(item, keys);
            }
        }
    }
}
