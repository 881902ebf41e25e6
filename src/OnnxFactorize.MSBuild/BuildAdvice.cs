using System.Text.RegularExpressions;

namespace OnnxFactorize.MSBuild;

/// <summary>The tool's <c>advice:</c> line (printed when the rank policy factorizes nothing or little) in the build's terms:
/// flags become the metadata that set them, and the command to try becomes the metadata to set.</summary>
internal static partial class BuildAdvice
{
    private const string Prefix = "advice: ";

    /// <summary>The advice among the tool's stdout lines, worded for a project file; null when the tool gave none.</summary>
    public static string? From(IEnumerable<string> stdout)
    {
        var line = stdout.Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        if (line is null)
        {
            return null;
        }

        var text = line[Prefix.Length..];

        // The CLI's "Let accuracy decide: onnx-factorize optimize … --max-error 0.02 --validate …" names a command line;
        // in a build the same thing is one metadata value.
        var cut = text.IndexOf(" Let accuracy decide:", StringComparison.Ordinal);
        if (cut >= 0)
        {
            text = text[..(cut + 1)] + "Let accuracy decide: set MaxError=\"0.02\" on the item (ranks measured in ONNX Runtime), " +
                "or run onnx-factorize analyze on the model for every node's spectrum.";
        }

        return FlagWithValue().Replace(text, m => ModelOptions.Specs.FirstOrDefault(s => s.Flag == m.Groups[1].Value) is { } spec
            ? $"{spec.Name}=\"{m.Groups[2].Value}\""
            : m.Value);
    }

    [GeneratedRegex(@"(--[a-z0-9-]+) ([0-9][0-9.]*)", RegexOptions.CultureInvariant)]
    private static partial Regex FlagWithValue();
}
