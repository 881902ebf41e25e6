namespace OnnxFactorize.Decomposition;

/// <summary>Bias correction for a low-rank weight: with inputs of mean μ, replacing W by Ŵ shifts the mean output by
/// (W − Ŵ)·μ; adding that delta to the layer's bias makes the mean output error zero (Nagel et al. 2019, "Data-free
/// quantization", the same argument for quantized weights).</summary>
internal static class BiasCorrection
{
    /// <summary>(W − Ŵ)·μ (length out) for two row-major weights of the same shape and layout and the input mean μ (length in).</summary>
    public static double[] Delta(ReadOnlySpan<float> weight, ReadOnlySpan<float> approximation, int rows, int cols, WeightLayout layout, ReadOnlySpan<double> inputMean)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        var size = (long)rows * cols;
        if (weight.Length != size || approximation.Length != size)
        {
            throw new ArgumentException($"weight ({weight.Length}) and approximation ({approximation.Length}) must both hold {rows}×{cols} = {size} values.");
        }

        var (outputs, inputs) = layout == WeightLayout.OutByIn ? (rows, cols) : (cols, rows);
        if (inputMean.Length != inputs)
        {
            throw new ArgumentException($"the input mean has {inputMean.Length} entries but the {rows}×{cols} weight ({layout}) reads {inputs} inputs.", nameof(inputMean));
        }

        var delta = new double[outputs];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                var d = (double)weight[r * cols + c] - approximation[r * cols + c];
                if (layout == WeightLayout.OutByIn)
                {
                    delta[r] += d * inputMean[c];
                }
                else
                {
                    delta[c] += d * inputMean[r];
                }
            }
        }

        return delta;
    }
}
