using System.Text;
using System.Text.Json;
using OnnxFactorize.Passes;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Reports;

/// <summary>Writes a <see cref="ValidationResult"/> as the versioned JSON report documented in docs/report-schema.md.</summary>
public static class JsonReport
{
    /// <summary>Version of the JSON layout; bumped on any breaking change.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The report as an indented UTF-8 JSON string.</summary>
    public static string Serialize(ValidationResult result)
    {
        using var stream = new MemoryStream();
        Write(result, stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes the report to a file.</summary>
    public static void WriteFile(ValidationResult result, string path)
    {
        using var stream = File.Create(path);
        Write(result, stream);
    }

    /// <summary>Writes the report to a stream as indented UTF-8 JSON.</summary>
    public static void Write(ValidationResult result, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", SchemaVersion);
        w.WriteBoolean("passed", result.Passed);
        w.WriteNumber("sampleCount", result.SampleCount);

        w.WriteStartObject("model");
        w.WriteString("originalPath", result.Original.Path);
        w.WriteString("optimizedPath", result.Optimized.Path);
        w.WriteNumber("paramsBefore", result.Original.Parameters);
        w.WriteNumber("paramsAfter", result.Optimized.Parameters);
        w.WriteNumber("flopsBefore", result.Original.Flops);
        w.WriteNumber("flopsAfter", result.Optimized.Flops);
        w.WriteNumber("bytesBefore", result.Original.FileBytes);
        w.WriteNumber("bytesAfter", result.Optimized.FileBytes);
        w.WriteEndObject();

        w.WriteStartArray("nodes");
        foreach (var d in result.Decisions)
        {
            WriteDecision(w, d);
        }

        w.WriteEndArray();

        w.WriteStartArray("outputs");
        foreach (var o in result.Outputs)
        {
            WriteOutput(w, o);
        }

        w.WriteEndArray();

        if (result.Latency is { } l)
        {
            w.WriteStartObject("latency");
            w.WriteNumber("originalMedianMs", l.Original.MedianMs);
            w.WriteNumber("optimizedMedianMs", l.Optimized.MedianMs);
            w.WriteNumber("originalP90Ms", l.Original.P90Ms);
            w.WriteNumber("optimizedP90Ms", l.Optimized.P90Ms);
            w.WriteNumber("originalMinMs", l.Original.MinMs);
            w.WriteNumber("optimizedMinMs", l.Optimized.MinMs);
            w.WriteNumber("speedup", l.Speedup);
            w.WriteNumber("runs", l.Runs);
            w.WriteNumber("warmupRuns", l.WarmupRuns);
            w.WriteNumber("intraOpThreads", l.IntraOpThreads);
            w.WriteString("executionProvider", l.ExecutionProvider);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("latency");
        }

        var t = result.Thresholds;
        w.WriteStartObject("thresholds");
        Number(w, "maxRelL2Error", t.MaxRelL2Error);
        Number(w, "maxAbsError", t.MaxAbsError);
        Number(w, "minCosine", t.MinCosine);
        Number(w, "minTop1Agreement", t.MinTop1Agreement);
        Number(w, "maxAccuracyDrop", t.MaxAccuracyDrop);
        Number(w, "minSpeedup", t.MinSpeedup);
        w.WriteEndObject();

        w.WriteStartArray("failures");
        foreach (var f in result.Failures)
        {
            w.WriteStartObject();
            w.WriteString("threshold", f.Threshold);
            w.WriteString("metric", f.Metric);
            w.WriteString("output", f.Output);
            Number(w, "value", f.Value);
            Number(w, "limit", f.Limit);
            Number(w, "excess", f.Excess);
            w.WriteString("message", f.Message);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteDecision(Utf8JsonWriter w, FactorizationDecision d)
    {
        w.WriteStartObject();
        w.WriteString("name", d.NodeName);
        w.WriteString("op", d.OpType);
        w.WriteString("graphPath", d.GraphPath);
        w.WriteString("method", d.Method);
        w.WriteNumber("rank", d.Rank);
        w.WriteStartArray("ranks");
        foreach (var r in d.Ranks)
        {
            w.WriteNumberValue(r);
        }

        w.WriteEndArray();
        w.WriteNumber("breakEvenRank", d.BreakEvenRank);
        w.WriteStartArray("weightShape");
        foreach (var s in d.WeightShape)
        {
            w.WriteNumberValue(s);
        }

        w.WriteEndArray();
        w.WriteNumber("paramsBefore", d.ParamsBefore);
        w.WriteNumber("paramsAfter", d.ParamsAfter);
        w.WriteNumber("flopsBefore", d.FlopsBefore);
        w.WriteNumber("flopsAfter", d.FlopsAfter);
        Number(w, "weightRelError", d.WeightRelError);
        w.WriteString("status", d.Status == DecisionStatus.Factorized ? "factorized" : "skipped");
        w.WriteString("reason", d.Reason);
        w.WriteEndObject();
    }

    private static void WriteOutput(Utf8JsonWriter w, OutputMetrics o)
    {
        w.WriteStartObject();
        w.WriteString("name", o.Name);
        w.WriteStartArray("shape");
        foreach (var s in o.Shape)
        {
            w.WriteNumberValue(s);
        }

        w.WriteEndArray();
        w.WriteNumber("elementCount", o.ElementCount);
        Number(w, "maxAbsError", o.MaxAbsError);
        Number(w, "meanAbsError", o.MeanAbsError);
        Number(w, "relL2Error", o.RelL2Error);
        Number(w, "cosine", o.Cosine);
        w.WriteNumber("nonFiniteOriginal", o.NonFiniteOriginal);
        w.WriteNumber("nonFiniteOptimized", o.NonFiniteOptimized);
        var c = o.Classification;
        Number(w, "top1Agreement", c?.Top1Agreement);
        Number(w, "originalAccuracy", c?.OriginalAccuracy);
        Number(w, "optimizedAccuracy", c?.OptimizedAccuracy);
        Number(w, "accuracyDrop", c?.AccuracyDropPoints);
        w.WriteEndObject();
    }

    // JSON has no NaN or infinity: those are written as the strings "NaN", "Infinity", "-Infinity"; null means not applicable.
    private static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is not { } v)
        {
            w.WriteNull(name);
        }
        else if (double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteString(name, double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity");
        }
    }
}
