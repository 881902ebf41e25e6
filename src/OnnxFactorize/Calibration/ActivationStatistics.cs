using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Calibration;

/// <summary>Second-order statistics of one activation over the calibration data.</summary>
internal sealed class ActivationStatistics
{
    internal ActivationStatistics(ActivationRequest request, GramAccumulator inputs, GramAccumulator? channels)
    {
        Request = request;
        Inputs = inputs;
        Channels = channels;
    }

    /// <summary>What was collected.</summary>
    public ActivationRequest Request { get; }

    /// <summary>What the weight reads: rows of the last axis (MatMul/Gemm), or im2col patches of length C·kh·kw (Conv);
    /// Gram Σ x xᵀ, mean and row count.</summary>
    public GramAccumulator Inputs { get; }

    /// <summary>Conv inputs only: per-position channel vectors (length C), for the per-channel mean and covariance
    /// (<see cref="GramAccumulator.CenteredGram"/> / count); null for a MatMul/Gemm input.</summary>
    public GramAccumulator? Channels { get; }
}
