using System.Globalization;
using System.Security.Cryptography;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Calibration;

/// <summary>Calibration samples read lazily from disk with <see cref="SampleLoader"/>: a .pb/.npy file (one sample), a folder
/// of test_data_set_* folders (one sample each, read one at a time), or a folder of tensor files (one sample).</summary>
internal static class CalibrationInputs
{
    /// <summary>The samples at <paramref name="path"/>, each read only when enumerated, so at most one is held at a time.</summary>
    public static IEnumerable<Sample> Stream(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path) || !Directory.Exists(path))
        {
            // SampleLoader names a missing path in its message.
            return SampleLoader.Load(path);
        }

        var sets = Directory.GetDirectories(path, "test_data_set_*").OrderBy(SetNumber).ThenBy(d => d, StringComparer.Ordinal).ToList();
        return sets.Count == 0 ? SampleLoader.Load(path) : sets.SelectMany(SampleLoader.Load);
    }

    /// <summary>Hex SHA-256 of every tensor file under <paramref name="path"/> (relative names and contents, in ordinal order):
    /// the inputs part of a statistics cache key.</summary>
    public static string Hash(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        var files = File.Exists(full) ? [full]
            : Directory.Exists(full) ? Directory.GetFiles(full, "*", SearchOption.AllDirectories).Where(TensorFiles.IsTensorFile).Order(StringComparer.Ordinal).ToArray()
            : throw new OnnxFactorizeException($"Calibration input path '{path}' does not exist; give a .pb/.npy file or a folder of them.");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var root = File.Exists(full) ? Path.GetDirectoryName(full)! : full;
        foreach (var file in files)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(root, file).Replace('\\', '/') + "\n"));
            using var stream = File.OpenRead(file);
            hash.AppendData(SHA256.HashData(stream));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static long SetNumber(string folder)
    {
        var stem = Path.GetFileName(folder);
        var underscore = stem.LastIndexOf('_');
        return long.TryParse(stem.AsSpan(underscore + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue;
    }
}
