using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace OnnxFactorize.MSBuild;

/// <summary>Factorizes one model by running the packaged <c>onnx-factorize optimize</c> out of process (so ONNX Runtime's
/// native library loads in its own process, not in MSBuild's), and turns its exit code, error line and JSON report into
/// MSBuild errors and warnings with OFZ codes that point at the model file.</summary>
public sealed partial class FactorizeOnnxModel : ToolTask
{
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private ModelOptions? _options;
    private bool _promotedWarning;

    /// <summary>The work item from <see cref="PrepareOnnxFactorize"/> (metadata: options, OutputFile, ReportFile, SourceItem).</summary>
    [Required]
    public ITaskItem Model { get; set; } = null!;

    /// <summary>Full path of the packaged onnx-factorize.dll.</summary>
    [Required]
    public string CliPath { get; set; } = "";

    /// <summary>The consuming project's folder; relative paths in metadata start there.</summary>
    [Required]
    public string ProjectDirectory { get; set; } = "";

    /// <summary>The dotnet host that runs the tool (MSBuild's DOTNET_HOST_PATH); found on PATH when empty.</summary>
    public string DotnetHostPath { get; set; } = "";

    /// <inheritdoc/>
    protected override string ToolName => OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";

    /// <inheritdoc/>
    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.Normal;

    /// <inheritdoc/>
    protected override MessageImportance StandardErrorLoggingImportance => MessageImportance.High;

    private string Source => Model.ItemSpec;

    private string DisplayName => Model.GetMetadata("SourceItem") is { Length: > 0 } spec ? spec : Model.ItemSpec;

    private string OutputFile => Model.GetMetadata("OutputFile");

    private string ReportFile => Model.GetMetadata("ReportFile");

    /// <summary>The JSON report the tool writes: the user's Report path, else the task's own in obj/.</summary>
    private string ReportPath => _options?.Report ?? ReportFile;

    /// <inheritdoc/>
    public override bool Execute()
    {
        if (!File.Exists(CliPath))
        {
            Log.LogError(null, Diagnostics.ToolFailed, null, Source, 0, 0, 0, 0,
                $"onnx-factorize was not found at {CliPath}; restore the OnnxFactorize.MSBuild package again (dotnet restore --force).");
            return false;
        }

        try
        {
            _options = ModelOptions.Parse(Model.GetMetadata, ProjectDirectory);
        }
        catch (ArgumentException e)
        {
            Log.LogError(null, Diagnostics.BadInput, null, Source, 0, 0, 0, 0, $"{DisplayName}: {e.Message}");
            return false;
        }

        // A stale report must not speak for this run.
        if (_options.Report is null && File.Exists(ReportFile))
        {
            File.Delete(ReportFile);
        }

        // The tool targets net10.0; a newer SDK without that runtime still runs it.
        EnvironmentVariables = [.. EnvironmentVariables ?? [], "DOTNET_ROLL_FORWARD=Major", "DOTNET_CLI_TELEMETRY_OPTOUT=1", "DOTNET_NOLOGO=1"];
        Log.LogMessage(MessageImportance.High, $"onnx-factorize: factorizing {DisplayName}");
        var ran = base.Execute();
        if (ran && ExitCode == 0)
        {
            ReportSuccess();
        }

        if (Log.HasLoggedErrors || _promotedWarning)
        {
            // Also when a warning was promoted by -warnaserror: no output means the next build runs the tool again
            // instead of taking the failed model as up to date.
            DeleteOutputs();
            return false;
        }

        return ran;
    }

    /// <summary>The tool's arguments, quoted for one command line.</summary>
    internal IReadOnlyList<string> Arguments() =>
        [CliPath, .. _options!.ToArguments(Source, OutputFile, ReportFile, Model.GetMetadata("CacheDirectory"))];

    /// <inheritdoc/>
    protected override string GenerateCommandLineCommands() => CommandLine.Join(Arguments());

    /// <inheritdoc/>
    protected override string GenerateFullPathToTool()
    {
        if (DotnetHostPath.Length > 0 && File.Exists(DotnetHostPath))
        {
            return DotnetHostPath;
        }

        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, ToolName))
            .FirstOrDefault(File.Exists);
        return onPath ?? ToolName;
    }

    /// <inheritdoc/>
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        if (messageImportance == StandardErrorLoggingImportance)
        {
            _stderr.Add(singleLine);
            return;
        }

        _stdout.Add(singleLine);
        base.LogEventsFromTextOutput(singleLine, messageImportance);
    }

    /// <inheritdoc/>
    protected override bool HandleTaskExecutionErrors()
    {
        var firstError = _stderr.Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";
        switch (ExitCode)
        {
            case 1:
                ReportThresholdFailures();
                break;
            case 2:
                Log.LogError(null, Diagnostics.BadInput, null, Source, 0, 0, 0, 0,
                    $"{DisplayName}: {StripPrefix(firstError)}{Hint(firstError)}");
                break;
            case 3:
                Log.LogError(null, Diagnostics.InternalError, null, Source, 0, 0, 0, 0,
                    $"{DisplayName}: onnx-factorize failed: {StripPrefix(firstError)} Please report it with the model and the build log (-v:d).");
                break;
            default:
                Log.LogError(null, Diagnostics.ToolFailed, null, Source, 0, 0, 0, 0,
                    string.Create(CultureInfo.InvariantCulture, $"{DisplayName}: onnx-factorize exited with code {ExitCode}{(firstError.Length > 0 ? ": " + firstError : ".")}"));
                break;
        }

        return false;
    }

    private void ReportSuccess()
    {
        foreach (var line in _stderr.Where(l => l.Trim().Length > 0))
        {
            Warn(Diagnostics.ToolWarning, $"{DisplayName}: {line.Trim()}");
        }

        var report = ValidationReport.TryRead(ReportPath);
        if (report is null || report.Summary.Length == 0)
        {
            Log.LogMessage(MessageImportance.High, $"onnx-factorize: {DisplayName} -> {OutputFile}; the tool wrote no readable report at {ReportPath}");
            return;
        }

        var verdict = report.Validated
            ? string.Create(CultureInfo.InvariantCulture, $"; validation passed (max rel L2 {report.MaxRelL2Error:G3}, min cosine {report.MinCosine:G4})")
            : "";
        Log.LogMessage(MessageImportance.High, $"onnx-factorize: {DisplayName}: {report.Summary}{verdict}");
        var advice = BuildAdvice.From(_stdout);
        if (!report.Changed)
        {
            Warn(Diagnostics.NothingFactorized, advice is null
                ? $"{DisplayName}: no node was factorized, so the model is copied unchanged; lower Energy, set Rank/RankRatio/Compression, or check Ops/Only/Exclude."
                : $"{DisplayName}: {advice} The model is copied unchanged.");
            return;
        }

        if (advice is not null)
        {
            Warn(Diagnostics.Advice, $"{DisplayName}: {advice}");
        }

        if (report.Skipped.Count > 0)
        {
            const int Shown = 3;
            var listed = string.Join("; ", report.Skipped.Take(Shown).Select(n => $"{n.Name} ({n.Op}): {n.Reason}"));
            var more = report.Skipped.Count > Shown ? $"; and {report.Skipped.Count - Shown} more (see the report {ReportPath})" : "";
            Warn(Diagnostics.NodesSkipped,
                $"{DisplayName}: {report.Skipped.Count} of {report.NodeCount} node(s) left unfactorized: {listed}{more}");
        }
    }

    private void ReportThresholdFailures()
    {
        var report = ValidationReport.TryRead(ReportPath);
        if (report is null || report.Failures.Count == 0)
        {
            var line = _stdout.Concat(_stderr).LastOrDefault(l => l.Contains("FAIL", StringComparison.Ordinal)) ?? "a validation threshold failed";
            Log.LogError(null, Diagnostics.ThresholdFailed, null, Source, 0, 0, 0, 0, $"{DisplayName}: {line.Trim()}");
            return;
        }

        foreach (var failure in report.Failures)
        {
            var metadata = ModelOptions.ThresholdMetadata(failure.Threshold);
            var limit = _options!.Value(metadata) is { } given ? $" ({metadata}=\"{given}\")" : "";
            Log.LogError(null, Diagnostics.ThresholdFailed, null, Source, 0, 0, 0, 0,
                $"{DisplayName}: validation failed: {failure.Message}{limit}. The factorized model was not kept; keep more energy (Energy, Rank, RankRatio) or relax the threshold.");
        }
    }

    /// <summary>Logs a warning at the model file and notes whether -warnaserror (or WarningsAsErrors) turns it into an
    /// error, which fails the build although the task itself succeeded.</summary>
    private void Warn(string code, string message)
    {
        Log.LogWarning(null, code, null, Source, 0, 0, 0, 0, message);
        _promotedWarning |= BuildEngine is IBuildEngine8 engine && engine.ShouldTreatWarningAsError(code);
    }

    private void DeleteOutputs()
    {
        foreach (var file in new[] { OutputFile, OutputFile + ".data" })
        {
            if (File.Exists(file))
            {
                File.Delete(file);
            }
        }
    }

    private static string StripPrefix(string line) =>
        line.StartsWith("error: ", StringComparison.Ordinal) ? line["error: ".Length..] : line;

    /// <summary>Tool messages name its flags; say which metadata sets the flag they mention.</summary>
    private static string Hint(string line)
    {
        var flag = ModelOptions.Specs
            .OrderByDescending(s => s.Flag.Length)
            .FirstOrDefault(s => Regex.IsMatch(line, Regex.Escape(s.Flag) + "(?![a-z0-9-])", RegexOptions.CultureInvariant));
        return flag is null ? "" : $" ({flag.Flag} is the {flag.Name} metadata)";
    }
}
