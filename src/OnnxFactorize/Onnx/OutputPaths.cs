using System.Runtime.InteropServices;

namespace OnnxFactorize.Onnx;

/// <summary>The file-safety rules every front end shares (docs/file-safety.md): inputs must be regular files, every path
/// written differs from every path read and from every other path written — compared after resolving symbolic links
/// along the whole path and every spelling — and a model's external data is named after the model (<c>&lt;model&gt;.data</c>).</summary>
public static class OutputPaths
{
    /// <summary>Suffix of the external-data file written next to a model: <c>out.onnx</c> keeps its tensors in <c>out.onnx.data</c>.</summary>
    public const string DataSuffix = ".data";

    private const int PalFileTypeMask = 0xF000;

    private static readonly StringComparison FileSystemComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>The external-data file written for the model at <paramref name="modelPath"/>.</summary>
    public static string DataFileFor(string modelPath)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        return Path.GetFullPath(modelPath) + DataSuffix;
    }

    /// <summary>The path with every symbolic link resolved, component by component (like realpath(3)); components that
    /// do not exist yet are kept as spelled.</summary>
    public static string RealPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var current = root;
        var parts = new Queue<string>(full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries));
        var hops = 0;
        while (parts.TryDequeue(out var part))
        {
            var next = Path.Combine(current, part);
            FileSystemInfo info = new FileInfo(next);
            try
            {
                if (info.LinkTarget is { } target && hops++ < 40)
                {
                    // Resolve the link's target relative to the folder holding the link, then keep walking what remains.
                    var resolved = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target));
                    var rest = parts.ToArray();
                    var resolvedRoot = Path.GetPathRoot(resolved) ?? "/";
                    parts = new Queue<string>(resolved[resolvedRoot.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Concat(rest));
                    current = resolvedRoot;
                    continue;
                }
            }
            catch (IOException)
            {
                // An unreadable link is compared as spelled.
            }
            catch (UnauthorizedAccessException)
            {
            }

            current = next;
        }

        return current;
    }

    /// <summary>True when both paths name the same file, however spelled (relative segments, links in any folder).</summary>
    public static bool SameFile(string a, string b) => string.Equals(RealPath(a), RealPath(b), FileSystemComparison);

    /// <summary>Refuses, with one line naming both roles, any written path that is a read path or another written path.
    /// Roles are what the user typed, e.g. "--report" or "input model".</summary>
    public static void CheckDistinct(IEnumerable<(string Role, string Path)> reads, IEnumerable<(string Role, string Path)> writes)
    {
        ArgumentNullException.ThrowIfNull(reads);
        ArgumentNullException.ThrowIfNull(writes);
        var read = reads.Select(r => (r.Role, r.Path, Real: RealPath(r.Path))).ToList();
        var written = new List<(string Role, string Path, string Real)>();
        foreach (var (role, path) in writes)
        {
            var real = RealPath(path);
            foreach (var r in read)
            {
                if (string.Equals(real, r.Real, FileSystemComparison))
                {
                    throw new OnnxFactorizeException($"{role} '{path}' is the same file as the {r.Role} '{r.Path}', which the tool reads; write it to another path.");
                }
            }

            foreach (var w in written)
            {
                if (string.Equals(real, w.Real, FileSystemComparison))
                {
                    throw new OnnxFactorizeException($"{role} '{path}' is the same file as the {w.Role} '{w.Path}'; give each output its own path.");
                }
            }

            written.Add((role, path, real));
        }
    }

    /// <summary>Most files of a read folder (e.g. --inputs) compared with the outputs; a larger folder is compared by its path only.</summary>
    private const int MaxFolderFiles = 10_000;

    /// <summary><see cref="CheckDistinct"/> over optional paths (null entries ignored): a read folder contributes the files in it, and each
    /// loaded model of <paramref name="models"/> the external-data files it reads.</summary>
    public static void CheckAll(IEnumerable<(string Role, string? Path)> reads, IEnumerable<(string Role, string? Path)> writes, params OnnxModel?[] models)
    {
        ArgumentNullException.ThrowIfNull(reads);
        ArgumentNullException.ThrowIfNull(writes);
        ArgumentNullException.ThrowIfNull(models);
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
                read.AddRange(ReferencedFiles(model).Select(f => ($"external data of {model.Name}", f)));
            }
        }

        CheckDistinct(read, writes.Where(w => w.Path is not null).Select(w => (w.Role, w.Path!)));
    }

    /// <summary>Creates the folder of <paramref name="path"/> when missing.</summary>
    public static void EnsureFolder(string path)
    {
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
    }

    /// <summary>The files a loaded model reads its external data from (full paths, each once).</summary>
    public static IReadOnlyList<string> ReferencedFiles(OnnxModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.BaseDirectory is null)
        {
            return [];
        }

        var files = new List<string>();
        // Bytes left in the .onnx itself on load are the model file, not external data.
        foreach (var tensor in ModelTensors.All(model.Proto).Where(t => ExternalData.IsExternal(t) && !model.IsOwnData(t)))
        {
            if (ExternalData.Entry(tensor, "location") is { Length: > 0 } location && !Path.IsPathRooted(location))
            {
                var full = Path.GetFullPath(Path.Combine(model.BaseDirectory, location));
                if (!files.Contains(full, StringComparer.Ordinal))
                {
                    files.Add(full);
                }
            }
        }

        return files;
    }

    /// <summary>What an existing path is when it is not a regular file ("a FIFO", "a character device", …), or null for a
    /// regular file or a missing path. Links are followed. Checked before opening: opening a FIFO blocks forever.</summary>
    public static string? NonRegularKind(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            return "a folder";
        }

        if (OperatingSystem.IsWindows() || !File.Exists(path))
        {
            return null;
        }

        int mode;
        try
        {
            mode = UnixMode(path);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No native stat: every non-regular file Linux has (FIFO, device, socket) reports size 0; so does an empty file,
            // which no model or data file may be.
            return new FileInfo(path).Length == 0 ? "not a regular file, or empty" : null;
        }

        return (mode & PalFileTypeMask) switch
        {
            -1 => null,
            0x8000 => null,
            0x1000 => "a FIFO (named pipe)",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0xC000 => "a socket",
            _ => "not a regular file",
        };
    }

    /// <summary>Throws when <paramref name="path"/> exists but is not a regular file, naming <paramref name="role"/>.</summary>
    public static void RequireRegularFile(string path, string role)
    {
        if (NonRegularKind(path) is { } kind)
        {
            throw new OnnxFactorizeException($"{path}: {role} is {kind}, not a regular file; give the path of a file.");
        }
    }

    private static int UnixMode(string path)
    {
        // The runtime's own stat shim (System.Native), whose FileStatus begins { int Flags; int Mode; ... } with the file
        // type in Mode's S_IFMT bits; the buffer is larger than the struct on every platform.
        var buffer = new byte[512];
        var utf8 = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        return NativeMethods.SystemNativeStat(utf8, buffer) == 0 ? BitConverter.ToInt32(buffer, 4) : -1;
    }

    private static class NativeMethods
    {
        [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int SystemNativeStat(byte[] path, byte[] output);
    }
}
