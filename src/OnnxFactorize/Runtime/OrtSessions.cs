using Microsoft.ML.OnnxRuntime;

namespace OnnxFactorize.Runtime;

/// <summary>The one place the engine creates ONNX Runtime sessions: every failure becomes a one-line
/// <see cref="OnnxFactorizeException"/> naming the model and what it was loaded for.</summary>
public static class OrtSessions
{
    /// <summary>A session on model bytes; <paramref name="what"/> names the model in messages, <paramref name="purpose"/>
    /// says why it was loaded (e.g. "with the calibration outputs added").</summary>
    public static InferenceSession Open(byte[] model, SessionOptions options, string what, string purpose = "")
    {
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            return new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxFactorizeException($"{what}: ONNX Runtime cannot load the model{(purpose.Length > 0 ? " " + purpose : "")} ({FirstLine(e.Message)}).", e);
        }
    }

    /// <summary>A session on a model file.</summary>
    public static InferenceSession Open(string path, SessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
        {
            throw new OnnxFactorizeException($"Model '{path}' not found.");
        }

        try
        {
            return new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxFactorizeException($"{path}: ONNX Runtime cannot load the model ({FirstLine(e.Message)}).", e);
        }
    }

    /// <summary>The first line of an ONNX Runtime message, trimmed.</summary>
    public static string FirstLine(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Split('\n', 2)[0].Trim();
    }
}
