using System.Text;
using System.Text.Json;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Reports;

/// <summary>Writes a <see cref="ValidationResult"/> as the versioned JSON report documented in docs/report-schema.md.</summary>
public static class JsonReport
{
    /// <summary>Version of the JSON layout; bumped on any breaking change.</summary>
    public const int SchemaVersion = 1;

    /// <summary>The report as an indented UTF-8 JSON string.</summary>
    public static string Serialize(ValidationResult result, BudgetPlan? plan = null)
    {
        using var stream = new MemoryStream();
        Write(result, stream, plan);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes the report of one optimization to a file (see <see cref="Write(Stream, ReportSummary?, IReadOnlyList{FactorizationDecision}, ValidationResult?, BudgetPlan?)"/>).</summary>
    public static void WriteFile(string path, ReportSummary? summary, IReadOnlyList<FactorizationDecision> decisions, ValidationResult? validation, BudgetPlan? plan)
    {
        using var stream = File.Create(path);
        Write(stream, summary, decisions, validation, plan);
    }

    /// <summary>Writes the report to a file.</summary>
    public static void WriteFile(ValidationResult result, string path, BudgetPlan? plan = null)
    {
        TempFiles.WriteAtomic(path, stream => Write(result, stream, plan));
    }

    /// <summary>Writes the report to a stream as indented UTF-8 JSON; <paramref name="plan"/> adds the budget planner's record.</summary>
    public static void Write(ValidationResult result, Stream stream, BudgetPlan? plan = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        Write(stream, null, [], result, plan);
    }

    /// <summary>Writes the report of one optimization, with or without a validation: <paramref name="summary"/> (null for
    /// a plain comparison) says what was done, <paramref name="decisions"/> what happened per node.</summary>
    public static void Write(Stream stream, ReportSummary? summary, IReadOnlyList<FactorizationDecision> decisions, ValidationResult? validation, BudgetPlan? plan)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", SchemaVersion);
        w.WriteBoolean("validated", validation is not null);
        if (summary is not null)
        {
            w.WriteStartObject("summary");
            w.WriteString("text", summary.Text);
            w.WriteString("rankChoice", summary.RankChoice);
            w.WriteNumber("nodesFactorized", decisions.Count(d => d.Status == DecisionStatus.Factorized));
            w.WriteNumber("nodeCount", decisions.Count);
            w.WriteBoolean("changed", decisions.Any(d => d.Status == DecisionStatus.Factorized));
            if (summary.PeakRssBytes is { } peak)
            {
                w.WriteNumber("peakRssBytes", peak);
            }

            w.WriteEndObject();
        }

        if (validation is null)
        {
            w.WriteNull("passed");
            w.WriteNull("verdict");
            w.WriteStartObject("model");
            w.WriteString("originalPath", summary?.ModelPath ?? "");
            if (summary?.OutputPath is { } output)
            {
                w.WriteString("optimizedPath", output);
            }
            else
            {
                w.WriteNull("optimizedPath");
            }

            w.WriteNumber("paramsBefore", summary?.ParamsBefore ?? 0);
            w.WriteNumber("paramsAfter", summary?.ParamsAfter ?? 0);
            w.WriteEndObject();
            WriteNodes(w, decisions);
            w.WriteStartArray("failures");
            w.WriteEndArray();
            WritePlan(w, plan);
            w.WriteEndObject();
            return;
        }

        var result = validation;
        w.WriteBoolean("passed", result.Passed && result.Checked);
        w.WriteString("verdict", result.Verdict);
        w.WriteNumber("sampleCount", result.SampleCount);
        w.WriteString("inputs", result.InputsDescription);

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

        WriteNodes(w, decisions);

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
            Number(w, "speedupCiLow", l.SpeedupLow);
            Number(w, "speedupCiHigh", l.SpeedupHigh);
            w.WriteBoolean("speedupSignificant", l.Significant);
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
        w.WriteStartObject("thresholdSources");
        foreach (var (name, _, isDefault) in t.Set())
        {
            w.WriteString(name, isDefault ? "default" : "explicit");
        }

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
        WritePlan(w, plan);
        WriteHeldOut(w, result.HeldOut);
        w.WriteEndObject();
    }

    private static void WriteHeldOut(Utf8JsonWriter w, HeldOutCheck? c)
    {
        if (c is null)
        {
            w.WriteNull("budgetCheck");
            return;
        }

        w.WriteStartObject("budgetCheck");
        w.WriteString("metric", c.Metric);
        Number(w, "allowance", c.Allowance);
        Number(w, "planned", c.Planned);
        w.WriteNumber("calibrationSamples", c.CalibrationSamples);
        Number(w, "measured", c.Measured);
        w.WriteNumber("samples", c.Samples);
        w.WriteBoolean("heldOut", c.HeldOut);
        Number(w, "margin", c.Margin);
        w.WriteEndObject();
    }

    private static void WriteNodes(Utf8JsonWriter w, IReadOnlyList<FactorizationDecision> decisions)
    {
        w.WriteStartArray("nodes");
        foreach (var d in decisions)
        {
            WriteDecision(w, d);
        }

        w.WriteEndArray();
    }

    private static void WritePlan(Utf8JsonWriter w, BudgetPlan? plan)
    {
        if (plan is null)
        {
            w.WriteNull("planning");
            return;
        }

        w.WriteStartObject("planning");
        w.WriteString("budget", plan.Budget);
        w.WriteString("metric", plan.Metric.ToString());
        Number(w, "allowance", plan.Allowance);
        w.WriteString("target", plan.Target.ToString().ToLowerInvariant());
        Number(w, "finalError", plan.FinalError);
        w.WriteNumber("sampleCount", plan.SampleCount);
        w.WriteStartArray("nodes");
        foreach (var n in plan.Nodes)
        {
            w.WriteStartObject();
            w.WriteString("name", n.NodeName);
            w.WriteString("op", n.OpType);
            w.WriteNumber("chosenRank", n.ChosenRank);
            w.WriteNumber("breakEvenRank", n.BreakEvenRank);
            w.WriteNumber("latencyBreakEvenRank", n.LatencyBreakEvenRank);
            Number(w, "originalLatencyMs", n.OriginalLatencyMs);
            w.WriteString("reason", n.Reason);
            w.WriteStartArray("ladder");
            foreach (var p in n.Ladder)
            {
                w.WriteStartObject();
                w.WriteNumber("rank", p.Rank);
                w.WriteString("method", p.Method);
                Number(w, "energy", p.Energy);
                Number(w, "error", p.Error);
                Number(w, "weightRelError", p.WeightRelError);
                w.WriteNumber("params", p.Params);
                w.WriteNumber("flops", p.Flops);
                Number(w, "latencyMs", p.LatencyMs);
                Number(w, "speedup", p.Speedup);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("verifications");
        foreach (var v in plan.Verifications)
        {
            w.WriteStartObject();
            w.WriteNumber("iteration", v.Iteration);
            Number(w, "estimated", v.Estimated);
            Number(w, "measured", v.Measured);
            Number(w, "objective", v.Objective);
            w.WriteString("action", v.Action);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        var st = plan.Stats;
        w.WriteStartObject("stats");
        w.WriteNumber("decompositions", st.Decompositions);
        w.WriteNumber("decompositionCacheHits", st.DecompositionCacheHits);
        w.WriteNumber("errorEvaluations", st.ErrorEvaluations);
        w.WriteNumber("sensitivitySessions", st.SensitivitySessions);
        w.WriteNumber("latencyMeasurements", st.LatencyMeasurements);
        w.WriteNumber("nodeCacheHits", st.NodeCacheHits);
        w.WriteNumber("verifications", st.Verifications);
        Number(w, "seconds", st.Seconds);
        Number(w, "pricingSeconds", st.PricingSeconds);
        Number(w, "evaluationSeconds", st.EvaluationSeconds);
        Number(w, "latencySeconds", st.LatencySeconds);
        Number(w, "verificationSeconds", st.VerificationSeconds);
        w.WriteNumber("downstreamNodes", st.DownstreamNodes);
        w.WriteEndObject();
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
        NumberArray(w, "ranks", d.Ranks.Select(r => (long)r));
        w.WriteNumber("breakEvenRank", d.BreakEvenRank);
        NumberArray(w, "weightShape", d.WeightShape);
        w.WriteNumber("paramsBefore", d.ParamsBefore);
        w.WriteNumber("paramsAfter", d.ParamsAfter);
        w.WriteNumber("flopsBefore", d.FlopsBefore);
        w.WriteNumber("flopsAfter", d.FlopsAfter);
        Number(w, "weightRelError", d.WeightRelError);
        w.WriteString("mode", d.Mode);
        Number(w, "outputRelError", d.OutputRelError);
        w.WriteString("status", d.Status == DecisionStatus.Factorized ? "factorized" : "skipped");
        w.WriteString("reason", d.Reason);
        w.WriteEndObject();
    }

    private static void WriteOutput(Utf8JsonWriter w, OutputMetrics o)
    {
        w.WriteStartObject();
        w.WriteString("name", o.Name);
        NumberArray(w, "shape", o.Shape);
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

    private static void NumberArray(Utf8JsonWriter w, string name, IEnumerable<long> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
    }
}
