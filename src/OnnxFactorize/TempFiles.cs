using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OnnxFactorize;

/// <summary>Temporary files for atomic writes, named <c>.ofz-&lt;pid&gt;-&lt;12 hex&gt;.tmp</c> in the target's folder: short
/// enough for any output name within the 255-byte limit, and recognisable so that a later write into the same folder
/// removes the ones a killed process (kill -9, power loss) left behind.</summary>
public static partial class TempFiles
{
    /// <summary>A fresh temporary path in <paramref name="folder"/>, owned by this process.</summary>
    public static string NewPath(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        return Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $".ofz-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..12]}.tmp"));
    }

    /// <summary>Deletes temporary files in <paramref name="folder"/> whose owning process is no longer running; returns how
    /// many were removed. Files of live processes (a concurrent run) are left alone.</summary>
    public static int SweepStale(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var removed = 0;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(folder, ".ofz-*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        foreach (var file in candidates)
        {
            var match = TempName().Match(Path.GetFileName(file));
            if (!match.Success || !int.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                || pid == Environment.ProcessId || IsRunning(pid))
            {
                continue;
            }

            if (TryDelete(file))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Writes a file atomically: <paramref name="write"/> fills a temporary file in the target folder, which is then
    /// renamed over <paramref name="path"/>; on any failure the temporary file is removed and the target is untouched.</summary>
    public static void WriteAtomic(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(folder);
        SweepStale(folder);
        var temp = NewPath(folder);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                write(stream);
            }

            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>Deletes a file if it exists; false when it could not be deleted.</summary>
    internal static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^\.ofz-(\d{1,10})-[0-9a-f]{12}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TempName();
}
