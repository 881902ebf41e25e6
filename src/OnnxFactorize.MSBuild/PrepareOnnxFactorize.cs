using System.Globalization;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace OnnxFactorize.MSBuild;

/// <summary>Plans the factorization of the <c>OnnxFactorize</c> items: checks their metadata, picks output, report and stamp
/// paths, writes each item's options stamp (only when the options changed), and says which items copy to the output.</summary>
public sealed class PrepareOnnxFactorize : Microsoft.Build.Utilities.Task
{
    private static readonly StringComparer PathComparer =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    /// <summary>The <c>OnnxFactorize</c> items, with <c>TargetPath</c> assigned (relative path in the output folder).</summary>
    [Required]
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The consuming project's folder; relative paths in metadata start there.</summary>
    [Required]
    public string ProjectDirectory { get; set; } = "";

    /// <summary>Folder for factorized models, reports and stamps (under obj/).</summary>
    [Required]
    public string IntermediateDirectory { get; set; } = "";

    /// <summary>The packaged onnx-factorize.dll; its version is part of every options hash.</summary>
    public string ToolPath { get; set; } = "";

    /// <summary>The project's None and Content items: copies of the original models among them are replaced.</summary>
    public ITaskItem[] CopyCandidates { get; set; } = [];

    /// <summary>False when factorization is switched off: the original models are then copied as they are.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>One item per model to factorize, with OutputFile, ReportFile, StampFile, InputFiles and OptionsHash metadata.</summary>
    [Output]
    public ITaskItem[] Work { get; private set; } = [];

    /// <summary>Files to add as None items copied to the output and publish folders (factorized models, or originals when off).</summary>
    [Output]
    public ITaskItem[] CopyItems { get; private set; } = [];

    /// <summary>None/Content items that would copy an original model over its factorized version.</summary>
    [Output]
    public ITaskItem[] RemoveItems { get; private set; } = [];

    /// <summary>Files this task and the factorization write, for Clean.</summary>
    [Output]
    public ITaskItem[] FileWrites { get; private set; } = [];

    /// <inheritdoc/>
    public override bool Execute()
    {
        var candidates = CopyCandidates.ToLookup(c => FullPath(c.ItemSpec), PathComparer);
        var work = new List<ITaskItem>();
        var copies = new List<ITaskItem>();
        var removes = new List<ITaskItem>();
        var writes = new List<ITaskItem>();
        var outputs = new Dictionary<string, string>(PathComparer);
        var toolVersion = ToolVersion(ToolPath);

        foreach (var model in Models)
        {
            var source = FullPath(model.ItemSpec);
            var targetPath = model.GetMetadata("TargetPath") is { Length: > 0 } assigned ? assigned : Path.GetFileName(source);
            if (!Enabled)
            {
                // Copied when different (not when newer): a factorized model left in the output by an earlier build is
                // newer than the original and must still be replaced.
                removes.AddRange(candidates[source]);
                copies.Add(CopyItem(source, targetPath));
                continue;
            }

            if (!File.Exists(source))
            {
                Error(source, $"model '{model.ItemSpec}' was not found (full path {source}); check the Include of the OnnxFactorize item.");
                continue;
            }

            ModelOptions options;
            try
            {
                options = ModelOptions.Parse(model.GetMetadata, ProjectDirectory);
            }
            catch (ArgumentException e)
            {
                Error(source, $"{model.ItemSpec}: {e.Message}");
                continue;
            }

            string outputFile;
            string key;
            if (options.OutputPath is { } custom && Path.IsPathRooted(custom))
            {
                outputFile = Path.GetFullPath(custom);
                targetPath = "";
                key = Path.Combine("rooted", Path.GetFileName(outputFile) + "." + ShortHash(outputFile));
            }
            else
            {
                if (options.OutputPath is { } relative)
                {
                    targetPath = relative;
                }

                var root = Path.GetFullPath(IntermediateDirectory);
                // Item paths use either separator in project files; only Windows reads '\\' as one.
                outputFile = Path.GetFullPath(Path.Combine(root, OperatingSystem.IsWindows() ? targetPath : targetPath.Replace('\\', '/')));
                key = Path.GetRelativePath(root, outputFile);
                if (key == "." || key == ".." || key.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(key))
                {
                    Error(source, $"{model.ItemSpec}: OutputPath '{targetPath}' must stay inside the output folder (or be an absolute path).");
                    continue;
                }

                targetPath = key;
            }

            if (outputs.TryGetValue(outputFile, out var other))
            {
                Error(source, $"{model.ItemSpec} and {other} would both be written to {outputFile}; give one of them an OutputPath.");
                continue;
            }

            outputs[outputFile] = model.ItemSpec;
            var stateBase = Path.GetFullPath(Path.Combine(IntermediateDirectory, key));
            var stampFile = stateBase + ".options";
            var reportFile = options.Report ?? stateBase + ".report.json";
            var hash = options.Hash(outputFile, toolVersion);
            WriteStamp(stampFile, options.CanonicalText(outputFile, toolVersion) + "Hash=" + hash + "\n");

            var inputs = new List<string> { source, stampFile };
            if (File.Exists(ToolPath))
            {
                inputs.Add(Path.GetFullPath(ToolPath));
            }

            inputs.AddRange(options.DependencyFiles);
            var item = new TaskItem(source);
            model.CopyMetadataTo(item);
            item.SetMetadata("SourceItem", model.ItemSpec);
            item.SetMetadata("OutputFile", outputFile);
            item.SetMetadata("ReportFile", reportFile);
            item.SetMetadata("CacheDirectory", Path.GetFullPath(Path.Combine(IntermediateDirectory, "cache")));
            item.SetMetadata("StampFile", stampFile);
            item.SetMetadata("InputFiles", string.Join(";", inputs));
            item.SetMetadata("OptionsHash", hash);
            item.SetMetadata("TargetPath", targetPath);
            work.Add(item);

            writes.Add(new TaskItem(stampFile));
            writes.Add(new TaskItem(outputFile));
            if (options.Report is null && options.Validate)
            {
                writes.Add(new TaskItem(reportFile));
            }

            removes.AddRange(candidates[source]);
            if (targetPath.Length > 0)
            {
                copies.Add(CopyItem(outputFile, targetPath));
                if (options.ExternalData)
                {
                    copies.Add(CopyItem(outputFile + ".data", targetPath + ".data"));
                    writes.Add(new TaskItem(outputFile + ".data"));
                }
            }
        }

        Work = [.. work];
        CopyItems = [.. copies];
        RemoveItems = [.. removes];
        FileWrites = [.. writes];
        return !Log.HasLoggedErrors;
    }

    /// <summary>The version that goes into every options hash: the tool's file version and size, so a new package re-runs.</summary>
    internal static string ToolVersion(string toolPath)
    {
        if (!File.Exists(toolPath))
        {
            return "none";
        }

        var info = System.Diagnostics.FileVersionInfo.GetVersionInfo(toolPath);
        return string.Create(CultureInfo.InvariantCulture, $"{info.ProductVersion ?? info.FileVersion} {new FileInfo(toolPath).Length}");
    }

    /// <summary>Writes the stamp only when its text changed, so its time stamp moves exactly when the options do.</summary>
    internal static void WriteStamp(string path, string text)
    {
        if (File.Exists(path) && File.ReadAllText(path, Encoding.UTF8) == text)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    private static TaskItem CopyItem(string file, string targetPath)
    {
        var item = new TaskItem(file);
        item.SetMetadata("Link", targetPath);
        item.SetMetadata("TargetPath", targetPath);
        item.SetMetadata("CopyToOutputDirectory", "IfDifferent");
        item.SetMetadata("CopyToPublishDirectory", "IfDifferent");
        item.SetMetadata("Visible", "false");
        return item;
    }

    private static string ShortHash(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..8];

    private string FullPath(string path) => Path.GetFullPath(Path.Combine(ProjectDirectory, path));

    private void Error(string file, string message) =>
        Log.LogError(null, Diagnostics.BadInput, null, file, 0, 0, 0, 0, message);
}
