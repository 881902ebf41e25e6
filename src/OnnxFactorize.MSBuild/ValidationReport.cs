using System.Text.Json;

namespace OnnxFactorize.MSBuild;

/// <summary>The parts of the tool's JSON report (docs/report-schema.md, schema version 1) the build reports on: the
/// summary line, whether the model changed, the validation's failures and worst output errors, and the skipped nodes.</summary>
internal sealed record ValidationReport(IReadOnlyList<ReportFailure> Failures, IReadOnlyList<SkippedNode> Skipped, int NodeCount,
    string Summary, bool Changed, bool Validated, double? MaxRelL2Error, double? MinCosine)
{
    /// <summary>Reads <paramref name="path"/>; null when the file is missing or is not a report.</summary>
    public static ValidationReport? TryRead(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var stream = File.OpenRead(path);
            using var json = JsonDocument.Parse(stream);
            var root = json.RootElement;
            var failures = root.GetProperty("failures").EnumerateArray()
                .Select(f => new ReportFailure(Text(f, "threshold"), Text(f, "metric"), Text(f, "output"), Text(f, "message")))
                .ToList();
            var nodes = root.GetProperty("nodes").EnumerateArray().ToList();
            var skipped = nodes
                .Where(n => Text(n, "status") == "skipped")
                .Select(n => new SkippedNode(Text(n, "name"), Text(n, "op"), Text(n, "reason")))
                .ToList();
            var summary = root.TryGetProperty("summary", out var s) ? s : default;
            var outputs = root.TryGetProperty("outputs", out var o) && o.ValueKind == JsonValueKind.Array ? o.EnumerateArray().ToList() : [];
            double? Worst(string name, bool max) => outputs.Select(x => x.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : (double?)null)
                .Where(v => v is not null).Select(v => v!.Value).DefaultIfEmpty(double.NaN).Aggregate((a, b) => max ? Math.Max(a, b) : Math.Min(a, b)) is var w && double.IsNaN(w) ? null : w;
            return new ValidationReport(failures, skipped, nodes.Count,
                summary.ValueKind == JsonValueKind.Object ? Text(summary, "text") : "",
                summary.ValueKind == JsonValueKind.Object && summary.TryGetProperty("changed", out var c) && c.ValueKind == JsonValueKind.True,
                root.TryGetProperty("validated", out var v) && v.ValueKind == JsonValueKind.True,
                Worst("relL2Error", max: true), Worst("cosine", max: false));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            return null;
        }
    }

    private static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";
}

/// <summary>A broken threshold: its name in the report (maxRelL2Error …), the metric, the output ("" for model-level) and one line.</summary>
internal sealed record ReportFailure(string Threshold, string Metric, string Output, string Message);

/// <summary>A node the tool considered and left unchanged, with the reason.</summary>
internal sealed record SkippedNode(string Name, string Op, string Reason);
