using OnnxFactorize.Validation;

namespace OnnxFactorize.Testing;

/// <summary>xunit assertions for models under test: run them in ONNX Runtime and check accuracy (and latency) thresholds.</summary>
public static class ModelAssert
{
    /// <summary>Asserts that <paramref name="optimizedPath"/> matches <paramref name="originalPath"/> within <paramref name="thresholds"/> on <paramref name="inputs"/> (random inputs when null); returns the result.</summary>
    /// <exception cref="ModelAssertException">A threshold broke; the message names output, metric, value and limit.</exception>
    public static ValidationResult Equivalent(string originalPath, string optimizedPath, ValidationThresholds thresholds, InputOptions? inputs = null, LatencyOptions? latency = null)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        var result = ModelValidator.Compare(originalPath, optimizedPath, new ValidationOptions
        {
            Inputs = inputs ?? new InputOptions(),
            Latency = latency,
            Thresholds = thresholds,
        });
        return Check(result);
    }

    /// <summary>Asserts that <paramref name="modelPath"/> reproduces the golden outputs stored in <paramref name="goldenPath"/> (test_data_set_*/input_K + output_K as .pb or .npy) within <paramref name="thresholds"/>.</summary>
    /// <exception cref="ModelAssertException">A threshold broke; the message names output, metric, value and limit.</exception>
    public static ValidationResult MatchesGolden(string modelPath, string goldenPath, ValidationThresholds thresholds, string? labelsPath = null)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        var result = ModelValidator.CompareToGolden(modelPath, goldenPath, new ValidationOptions
        {
            Inputs = new InputOptions { LabelsPath = labelsPath },
            Latency = null,
            Thresholds = thresholds,
        });
        return Check(result);
    }

    /// <summary>Records <paramref name="modelPath"/>'s outputs on <paramref name="inputs"/> (random when null) as golden ONNX test data under <paramref name="goldenPath"/>.</summary>
    public static int WriteGolden(string modelPath, string goldenPath, InputOptions? inputs = null)
        => GoldenData.Write(modelPath, goldenPath, inputs ?? new InputOptions());

    private static ValidationResult Check(ValidationResult result) => result.Passed ? result : throw new ModelAssertException(result);
}
