using OnnxFactorize.Onnx;

namespace OnnxFactorize.Cli;

/// <summary>Path checks done before any work, by the engine's <see cref="OutputPaths"/> rules: nothing written is read,
/// no two outputs share a file, and output folders are created.</summary>
internal static class Paths
{
    /// <summary>Most files of an --inputs folder compared with the outputs; a larger folder is compared by its path only.</summary>
    private const int MaxFolderFiles = 10_000;

    /// <summary>Throws when a written path (null entries ignored) is a read path or another written path, however spelled.
    /// A read folder (--inputs) contributes the files in it; a loaded model contributes its external-data files.</summary>
    public static void CheckDistinct(IEnumerable<(string Role, string? Path)> reads, IEnumerable<(string Role, string? Path)> writes, params OnnxModel?[] models)
    {
        var read = new List<(string Role, string Path)>();
        foreach (var (role, path) in reads)
        {
            if (path is null)
            {
                continue;
            }

            read.Add((role, path));
            if (Directory.Exists(path))
            {
                read.AddRange(Directory.EnumerateFiles(path, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                    .Take(MaxFolderFiles).Select(f => (role, f)));
            }
        }

        foreach (var model in models)
        {
            if (model is not null)
            {
                read.AddRange(OutputPaths.ReferencedFiles(model).Select(f => ($"external data of {model.Name}", f)));
            }
        }

        OutputPaths.CheckDistinct(read, writes.Where(w => w.Path is not null).Select(w => (w.Role, w.Path!)));
    }

    /// <summary>Creates the folder of <paramref name="path"/> when missing.</summary>
    public static void EnsureFolder(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
    }
}
