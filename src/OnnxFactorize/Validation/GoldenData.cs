using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Runtime;

namespace OnnxFactorize.Validation;

/// <summary>Records a model's outputs as golden ONNX test data (test_data_set_N/input_K.pb, output_K.pb) for later regression checks.</summary>
public static class GoldenData
{
    /// <summary>Runs <paramref name="modelPath"/> on the configured inputs (files or seeded random) and writes inputs and outputs under <paramref name="goldenPath"/>; returns the number of samples written.</summary>
    public static int Write(string modelPath, string goldenPath, InputOptions inputs)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        ArgumentNullException.ThrowIfNull(goldenPath);
        ArgumentNullException.ThrowIfNull(inputs);
        inputs.Validate();
        using var sessionOptions = new SessionOptions();
        using var session = OrtSessions.Open(modelPath, sessionOptions);
        using var runOptions = new RunOptions();
        var declared = ModelInput.FromSession(session);
        var samples = inputs.Path is { } p ? SampleLoader.Load(p) : SampleLoader.Generate(declared, inputs, inputs.RandomSamples);
        for (var s = 0; s < samples.Count; s++)
        {
            var bound = SampleLoader.Bind(samples[s], declared);
            var outputs = ModelValidator.Run(session, bound, session.OutputNames, runOptions, modelPath);
            var dir = Directory.CreateDirectory(Path.Combine(goldenPath, $"test_data_set_{s}")).FullName;
            for (var k = 0; k < bound.Count; k++)
            {
                TensorFiles.WritePb(Path.Combine(dir, $"input_{k}.pb"), bound[k]);
            }

            for (var k = 0; k < outputs.Count; k++)
            {
                TensorFiles.WritePb(Path.Combine(dir, $"output_{k}.pb"), outputs[k]);
            }
        }

        return samples.Count;
    }
}
