using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OnnxFactorize.Analysis;
using OnnxFactorize.Onnx;
using OnnxFactorize.Optimization;
using Spectre.Console;

namespace OnnxFactorize.Cli;

/// <summary><c>analyze &lt;model&gt;</c>: what factorization would do per node, without writing a model.</summary>
internal static class AnalyzeCommand
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static int Run(ParseResult parsed, CliOptions o, CliOutput output, CancellationToken cancellationToken)
    {
        var modelPath = parsed.GetRequiredValue<string>("model");
        var options = o.ToFactorizeOptions(parsed);
        if (parsed.GetResult(o.AnalyzeReport) is { Implicit: false } && parsed.GetResult(o.Json) is { Implicit: false })
        {
            throw new OnnxFactorizeException("--report and --json conflict: --json is the deprecated spelling of --report; give --report only.");
        }

        var jsonPath = parsed.GetValue(o.AnalyzeReport) ?? parsed.GetValue(o.Json);
        var calibration = parsed.GetValue(o.Inputs);
        (string, string?)[] reads = [("input model", modelPath), ("--inputs", calibration)];
        (string, string?)[] writes = [("--report", jsonPath)];
        OutputPaths.CheckAll(reads, writes);
        var (analysis, notes) = output.WithNodeProgress("Analyzing", progress => Optimizer.Analyze(modelPath, options, o.Dims(parsed), progress, cancellationToken, calibration));
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var note in notes)
        {
            output.Line(note);
        }

        output.Write(Table(analysis));
        if (analysis.CalibrationInputs is not null)
        {
            output.Write(DataAwareTable(analysis));
        }

        foreach (var op in analysis.OpsWithoutPass)
        {
            output.Line($"note: {op} nodes are not analyzed: this build has no {op} factorization pass.");
        }

        if (jsonPath is not null)
        {
            OutputPaths.EnsureFolder(jsonPath);
            var json = JsonSerializer.SerializeToUtf8Bytes(analysis, JsonOptions);
            TempFiles.WriteAtomic(jsonPath, stream => stream.Write(json));
            output.Line($"JSON analysis: {jsonPath}");
        }

        var suggested = analysis.Nodes.Count(n => n.WouldFactorize);
        var total = analysis.Nodes.Sum(n => n.Params);
        output.Summary(string.Create(CultureInfo.InvariantCulture,
            $"{modelPath}: {analysis.Nodes.Count} candidate node(s), {suggested} worth factorizing at {analysis.Policy}, saving {CliOutput.Count(analysis.ParamsSaved)} of {CliOutput.Count(total)} weight parameters"));
        return ExitCodes.Success;
    }

    // With --inputs: per node the weight-space and output-space energy ranks side by side, the mode of the suggested
    // factorization and its weight and output error on the calibration data.
    private static Table DataAwareTable(ModelAnalysis analysis)
    {
        static string Ranks(IReadOnlyList<EnergyRank> ranks) =>
            ranks.Count == 0 ? "–" : string.Join("/", ModelAnalyzer.EnergyLevels.Select(l => ranks.FirstOrDefault(e => e.Energy == l)?.Rank.ToString(CultureInfo.InvariantCulture) ?? "–"));
        static string Error(double? e) => e is { } v ? v.ToString("G3", CultureInfo.InvariantCulture) : "–";
        var levels = string.Join("/", ModelAnalyzer.EnergyLevels.Select(l => (l * 100).ToString("0.#", CultureInfo.InvariantCulture)));
        var table = new Table().Title($"Weight vs output space (calibration: {Markup.Escape(analysis.CalibrationInputs!)})")
            .AddColumns(["Node", $"Weight r{levels}%", $"Output r{levels}%", "Mode", "Method", "Rank", "Weight error", "Output error"]);
        foreach (var n in analysis.Nodes)
        {
            var method = n.WouldFactorize ? n.Reason.Split(':', 2)[0] : "–";
            table.AddRow([
                Markup.Escape(n.NodeName),
                Ranks(n.EnergyRanks),
                Ranks(n.OutputEnergyRanks),
                n.WouldFactorize ? n.Mode : "–",
                Markup.Escape(method),
                n.WouldFactorize ? n.SuggestedRank.ToString(CultureInfo.InvariantCulture) : "–",
                Error(n.WeightRelError),
                Error(n.OutputRelError),
            ]);
        }

        return table;
    }

    private static Table Table(ModelAnalysis analysis)
    {
        var levels = ModelAnalyzer.EnergyLevels.Select(l => "r" + (l * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%");
        var table = new Table().Title($"Analysis ({Markup.Escape(analysis.Policy)})")
            .AddColumns(["Node", "Op", "Weight", "Params", "FLOPs", .. levels, "Suggested", "Break-even", "Savings per method"]);
        foreach (var n in analysis.Nodes)
        {
            var ranks = ModelAnalyzer.EnergyLevels.Select(l => n.EnergyRanks.FirstOrDefault(e => e.Energy == l)?.Rank.ToString(CultureInfo.InvariantCulture) ?? "–");
            var savings = n.Methods.Count == 0
                ? "none: " + Markup.Escape(n.Reason)
                : string.Join(", ", n.Methods.Select(m => $"{Markup.Escape(m.Method)} {CliOutput.Percent(n.Params, m.ParamsAfter)} params"));
            table.AddRow([
                Markup.Escape(n.NodeName),
                n.OpType,
                CliOutput.Shape(n.WeightShape),
                CliOutput.Count(n.Params),
                n.Flops > 0 ? CliOutput.Count(n.Flops) : "?",
                .. ranks,
                n.WouldFactorize ? n.SuggestedRank.ToString(CultureInfo.InvariantCulture) : "–",
                n.BreakEvenRank > 0 ? n.BreakEvenRank.ToString(CultureInfo.InvariantCulture) : "–",
                savings,
            ]);
        }

        return table;
    }
}
