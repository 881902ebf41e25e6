using System.Text;

namespace OnnxFactorize.MSBuild;

/// <summary>Builds one command-line string from arguments so that the started process sees exactly those arguments.</summary>
/// <remarks>ToolTask hands a single string to <see cref="System.Diagnostics.ProcessStartInfo.Arguments"/>, which .NET splits
/// with the Windows C runtime rules on every OS (CommandLineToArgvW): whitespace separates, double quotes group, 2n
/// backslashes before a quote are n backslashes, 2n+1 escape the quote. Quoting follows those rules, so paths with
/// spaces, trailing backslashes (C:\models\) and regular expressions with quotes arrive unchanged.</remarks>
internal static class CommandLine
{
    /// <summary>Joins <paramref name="args"/>, quoting each as needed.</summary>
    public static string Join(IEnumerable<string> args) => string.Join(' ', args.Select(Quote));

    /// <summary>Returns <paramref name="arg"/> unchanged when it needs no quotes, otherwise quoted and escaped.</summary>
    public static string Quote(string arg)
    {
        if (arg.Length > 0 && arg.IndexOfAny([' ', '\t', '\n', '\v', '"']) < 0)
        {
            return arg;
        }

        var text = new StringBuilder(arg.Length + 2).Append('"');
        for (var i = 0; i < arg.Length; i++)
        {
            var backslashes = 0;
            while (i < arg.Length && arg[i] == '\\')
            {
                backslashes++;
                i++;
            }

            if (i == arg.Length)
            {
                // Before the closing quote every backslash is doubled, or the last one would escape it.
                text.Append('\\', backslashes * 2);
                break;
            }

            if (arg[i] == '"')
            {
                text.Append('\\', (backslashes * 2) + 1).Append('"');
            }
            else
            {
                text.Append('\\', backslashes).Append(arg[i]);
            }
        }

        return text.Append('"').ToString();
    }
}
