namespace OnnxFactorize.Calibration;

/// <summary>One activation to collect statistics of: the value that meets a candidate weight, and how the weight reads it.</summary>
internal sealed record ActivationRequest
{
    private ActivationRequest(string value, ConvPatchGeometry? conv)
    {
        Value = value;
        Conv = conv;
    }

    /// <summary>Name of the value in the model's main graph.</summary>
    public string Value { get; }

    /// <summary>The Conv geometry for a Conv input; null for a MatMul/Gemm input (statistics over the last axis).</summary>
    public ConvPatchGeometry? Conv { get; }

    /// <summary>A MatMul/Gemm input: rows are all leading dims flattened, the Gram is over the last axis.</summary>
    public static ActivationRequest LastAxis(string value) =>
        new(string.IsNullOrEmpty(value) ? throw new OnnxFactorizeException("activation request: give the value name of the tensor that feeds the weight.") : value, null);

    /// <summary>A 2-D Conv input [N, C, H, W]: the Gram of its im2col patches (C·kh·kw) and its per-channel statistics (C).</summary>
    public static ActivationRequest ConvPatches(string value, ConvPatchGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        geometry.Validate();
        return new(string.IsNullOrEmpty(value) ? throw new OnnxFactorizeException("activation request: give the value name of the tensor that feeds the Conv.") : value, geometry);
    }

    /// <summary>Stable text of the request, part of the cache key.</summary>
    public override string ToString() => Conv is null ? $"{Value} (last axis)" : $"{Value} (conv {Conv})";
}
