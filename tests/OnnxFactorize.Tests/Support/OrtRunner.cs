using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxFactorize.Tests.Support;

/// <summary>Runs a model file in ONNX Runtime (CPU) on seeded random inputs and returns every output as floats.</summary>
internal static class OrtRunner
{
    /// <summary>Runs the model; symbolic dimensions become 2 for the leading (batch) axis and 48 elsewhere; bool inputs
    /// take <paramref name="boolValue"/>.</summary>
    public static Dictionary<string, float[]> RunOnRandomInputs(string modelPath, int seed = 0, bool boolValue = true)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(modelPath, options);
        return Run(session, modelPath, seed, boolValue);
    }

    /// <summary>Runs serialized model bytes the same way.</summary>
    public static Dictionary<string, float[]> RunOnRandomInputs(byte[] model, int seed = 0, bool boolValue = true)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        using var session = new InferenceSession(model, options);
        return Run(session, "<bytes>", seed, boolValue);
    }

    /// <summary>‖a − b‖₂ / ‖a‖₂.</summary>
    public static double RelativeL2(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double diff = 0, norm = 0;
        for (var i = 0; i < a.Length; i++)
        {
            diff += (double)(a[i] - b[i]) * (a[i] - b[i]);
            norm += (double)a[i] * a[i];
        }

        return norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
    }

    private static Dictionary<string, float[]> Run(InferenceSession session, string modelPath, int seed, bool boolValue)
    {
        var random = new Random(seed);
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            foreach (var (name, meta) in session.InputMetadata)
            {
                var shape = meta.Dimensions.Select((d, axis) => d >= 0 ? (long)d : axis == 0 ? 2L : 48L).ToArray();
                var count = (int)shape.Aggregate(1L, (a, b) => a * b);
                inputs[name] = meta.ElementDataType switch
                {
                    TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(
                        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), shape),
                    TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(
                        Enumerable.Range(0, count).Select(_ => (Float16)(float)(random.NextDouble() * 2 - 1)).ToArray(), shape),
                    TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory(
                        Enumerable.Repeat(boolValue, count).ToArray(), shape),
                    var other => throw new NotSupportedException($"{modelPath}: input '{name}' has element type {other}"),
                };
            }

            using var runOptions = new RunOptions();
            var outputNames = session.OutputNames;
            using var outputs = session.Run(runOptions, inputs, outputNames);
            var result = new Dictionary<string, float[]>();
            for (var k = 0; k < outputNames.Count; k++)
            {
                var value = outputs[k];
                result[outputNames[k]] = value.GetTensorTypeAndShape().ElementDataType switch
                {
                    TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
                    TensorElementType.Float16 => [.. value.GetTensorDataAsSpan<Float16>().ToArray().Select(h => h.ToFloat())],
                    var other => throw new NotSupportedException($"{modelPath}: output '{outputNames[k]}' has element type {other}"),
                };
            }

            return result;
        }
        finally
        {
            foreach (var value in inputs.Values)
            {
                value.Dispose();
            }
        }
    }
}
