namespace OnnxFactorize.Validation;

/// <summary>One set of model inputs, with expected (golden) outputs when a test_data_set folder stores them.</summary>
public sealed record Sample
{
    /// <summary>Where the sample came from (folder path, or "random #N").</summary>
    public required string Source { get; init; }

    /// <summary>Input tensors, in file order until bound to the model's inputs by name.</summary>
    public required IReadOnlyList<TensorData> Inputs { get; init; }

    /// <summary>Stored expected outputs (output_K.pb/.npy), possibly empty.</summary>
    public IReadOnlyList<TensorData> ExpectedOutputs { get; init; } = [];
}
