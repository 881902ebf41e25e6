using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;

namespace OnnxFactorize.Runtime;

/// <summary>Routes ONNX Runtime's own log lines (which it otherwise prints to stderr with ANSI colours) through a sink the
/// front end chooses: none by default, so a failing run still prints exactly one line; the CLI's --verbose shows warnings.
/// The ORT environment is process-wide, so this must run before the first session; later calls only change the sink.</summary>
public static partial class OrtLog
{
    private static readonly Lock Gate = new();

    // Held for the process's life: native code calls it.
    private static readonly DOrtLoggingFunction Callback = Forward;
    private static Action<string>? _sink;
    private static bool _installed;

    /// <summary>Sends ORT warnings and errors, one plain line each, to <paramref name="sink"/>; null drops them.
    /// Returns false when an ORT environment already existed with another logger, so the routing could not be installed.</summary>
    public static bool Configure(Action<string>? sink)
    {
        lock (Gate)
        {
            _sink = sink;
            if (_installed)
            {
                return true;
            }

            if (OrtEnv.IsCreated)
            {
                return false;
            }

            var options = new EnvironmentCreationOptions
            {
                logId = "onnx-factorize",
                logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
                loggingFunction = Callback,
            };
            OrtEnv.CreateInstanceWithOptions(ref options);
            _installed = true;
            return true;
        }
    }

    private static void Forward(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        if (Volatile.Read(ref _sink) is not { } sink || severity < OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING)
        {
            return;
        }

        var line = Ansi().Replace(message, "").ReplaceLineEndings(" ").Trim();
        sink($"onnxruntime {(severity >= OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR ? "error" : "warning")}: {line}");
    }

    [GeneratedRegex(@"\x1B\[[0-9;]*[A-Za-z]")]
    private static partial Regex Ansi();
}
