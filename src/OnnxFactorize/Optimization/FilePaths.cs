namespace OnnxFactorize.Optimization;

/// <summary>The rule that nothing the tool writes is something it reads, or another thing it writes: paths are compared
/// after resolving relative segments and symbolic links (the file's and its folders').</summary>
public static class FilePaths
{
    private static readonly StringComparison FileSystemComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>Throws when a written path names a read path or another written path, however spelled.</summary>
    public static void RefuseOverlaps(IReadOnlyList<(string What, string Path)> read, IReadOnlyList<(string What, string Path)> written)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(written);
        for (var i = 0; i < written.Count; i++)
        {
            var target = Canonical(written[i].Path);
            foreach (var (what, path) in read)
            {
                if (string.Equals(target, Canonical(path), FileSystemComparison))
                {
                    throw new OnnxFactorizeException(what == "input model" && written[i].What == "output"
                        ? $"output '{written[i].Path}' is the input model itself; write the optimized model to another path."
                        : $"{written[i].What} '{written[i].Path}' is the {what}; write the {written[i].What} to another path.");
                }
            }

            for (var j = 0; j < i; j++)
            {
                if (string.Equals(target, Canonical(written[j].Path), FileSystemComparison))
                {
                    throw new OnnxFactorizeException($"{written[i].What} '{written[i].Path}' is also the {written[j].What}; give each its own path.");
                }
            }
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

    /// <summary>The full path with every symbolic link resolved, in the file and in each folder above it.</summary>
    public static string Canonical(string path)
    {
        var full = Path.GetFullPath(path);
        var parts = new Stack<string>();
        var current = full;
        try
        {
            // Walk up to the deepest existing ancestor, resolve it (and its own ancestors), then append the rest.
            while (!File.Exists(current) && !Directory.Exists(current) && Path.GetDirectoryName(current) is { } parent)
            {
                parts.Push(Path.GetFileName(current));
                current = parent;
            }

            var resolved = ResolveAll(current);
            while (parts.Count > 0)
            {
                resolved = Path.Combine(resolved, parts.Pop());
            }

            return resolved;
        }
        catch (IOException)
        {
            return full;
        }
        catch (UnauthorizedAccessException)
        {
            return full;
        }
    }

    private static string ResolveAll(string path)
    {
        var parent = Path.GetDirectoryName(path);
        var head = parent is null ? path : Path.Combine(ResolveAll(parent), Path.GetFileName(path));
        FileSystemInfo info = Directory.Exists(head) ? new DirectoryInfo(head) : new FileInfo(head);
        return info.ResolveLinkTarget(returnFinalTarget: true) is { } target ? ResolveAll(Path.GetFullPath(target.FullName)) : head;
    }
}
