namespace OnnxFactorize.Cli;

/// <summary>Path checks done before any work: never overwrite the input, and create output folders.</summary>
internal static class Paths
{
    private static readonly StringComparison FileSystemComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>Throws when <paramref name="output"/> names the same file as <paramref name="input"/>, however spelled
    /// (relative segments, symbolic links).</summary>
    public static void RefuseSameFile(string input, string output)
    {
        if (string.Equals(Canonical(input), Canonical(output), FileSystemComparison))
        {
            throw new OnnxFactorizeException($"output '{output}' is the input model itself; write the optimized model to another path.");
        }
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

    private static string Canonical(string path)
    {
        var full = Path.GetFullPath(path);
        try
        {
            if (new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target)
            {
                full = target.FullName;
            }

            // A link in a parent folder: resolve the folder and keep the file name.
            var folder = Path.GetDirectoryName(full);
            if (folder is not null && new DirectoryInfo(folder).ResolveLinkTarget(returnFinalTarget: true) is { } folderTarget)
            {
                full = Path.Combine(folderTarget.FullName, Path.GetFileName(full));
            }
        }
        catch (IOException)
        {
            // Unresolvable links are compared as spelled.
        }

        return full;
    }
}
