namespace OnnxFactorize.Planning;

/// <summary>Where the decomposition and sensitivity cache lives by default: the user's cache folder, never the working folder.</summary>
public static class CacheLocation
{
    /// <summary>$XDG_CACHE_HOME/onnx-factorize when set (absolute), else ~/.cache/onnx-factorize on Linux and macOS, else
    /// %LOCALAPPDATA%\onnx-factorize on Windows.</summary>
    public static string Default => For(Environment.GetEnvironmentVariable("XDG_CACHE_HOME"), OperatingSystem.IsWindows());

    /// <summary>The default cache folder for a given XDG_CACHE_HOME value and platform (separated out for tests).</summary>
    public static string For(string? xdgCacheHome, bool windows)
    {
        if (!string.IsNullOrWhiteSpace(xdgCacheHome) && Path.IsPathRooted(xdgCacheHome))
        {
            return Path.Combine(xdgCacheHome, "onnx-factorize");
        }

        var root = windows
            ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "onnx-factorize");
    }
}
