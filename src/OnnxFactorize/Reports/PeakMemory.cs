using System.Diagnostics;
using System.Globalization;

namespace OnnxFactorize.Reports;

/// <summary>The process's peak resident memory so far: Linux's high-water mark (<c>VmHWM</c> in /proc/self/status, which
/// counts managed, native and ONNX Runtime memory alike), else <see cref="Process.PeakWorkingSet64"/>.</summary>
public static class PeakMemory
{
    /// <summary>Peak resident set size in bytes, or null when the platform reports none.</summary>
    public static long? Bytes()
    {
        try
        {
            if (File.Exists("/proc/self/status"))
            {
                foreach (var line in File.ReadLines("/proc/self/status"))
                {
                    // "VmHWM:\t  123456 kB"
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        var number = line["VmHWM:".Length..].Trim().Split(' ', 2)[0];
                        return long.Parse(number, CultureInfo.InvariantCulture) * 1024;
                    }
                }
            }

            using var process = Process.GetCurrentProcess();
            return process.PeakWorkingSet64 > 0 ? process.PeakWorkingSet64 : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>"1.23 GB" / "456 MB" for messages.</summary>
    public static string Format(long bytes) =>
        bytes >= 1L << 30
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB")
            : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F0} MiB");
}
