using System.Text.Json;

namespace OnnxFactorize.MSBuild;

/// <summary>The parts of the tool's JSON report (docs/report-schema.md, schema version 1) the build reports on.</summary>
internal sealed record ValidationReport(IReadOnlyList<ReportFailure> Failures, IReadOnlyList<SkippedNode> Skipped, int NodeCount)
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
            return new ValidationReport(failures, skipped, nodes.Count);
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
