namespace OnnxFactorize.Calibration;

/// <summary>The geometry of a 2-D Conv (ONNX Conv on [N, C, H, W], explicit zero pads) needed to form its im2col patches:
/// the patch of output position (p, q) is x[c, p·stride_h − pad_top + i·dilation_h, q·stride_w − pad_left + j·dilation_w]
/// for c &lt; C, i &lt; kh, j &lt; kw, zero outside the image, ordered (c, i, j) with j fastest, i.e. the column order of the
/// Conv weight [C_out, C_in, kh, kw] flattened to C_out×(C_in·kh·kw). Grouped convolutions read the diagonal blocks of the
/// full patch Gram (channels of one group).</summary>
internal sealed record ConvPatchGeometry
{
    /// <summary>Kernel height kh (≥ 1).</summary>
    public required int KernelHeight { get; init; }

    /// <summary>Kernel width kw (≥ 1).</summary>
    public required int KernelWidth { get; init; }

    /// <summary>Vertical stride (≥ 1).</summary>
    public int StrideHeight { get; init; } = 1;

    /// <summary>Horizontal stride (≥ 1).</summary>
    public int StrideWidth { get; init; } = 1;

    /// <summary>Vertical dilation (≥ 1).</summary>
    public int DilationHeight { get; init; } = 1;

    /// <summary>Horizontal dilation (≥ 1).</summary>
    public int DilationWidth { get; init; } = 1;

    /// <summary>Zero rows added above the image.</summary>
    public int PadTop { get; init; }

    /// <summary>Zero columns added left of the image.</summary>
    public int PadLeft { get; init; }

    /// <summary>Zero rows added below the image.</summary>
    public int PadBottom { get; init; }

    /// <summary>Zero columns added right of the image.</summary>
    public int PadRight { get; init; }

    /// <summary>Checks every field once, with a message naming the bad one.</summary>
    public void Validate()
    {
        if (KernelHeight < 1 || KernelWidth < 1 || StrideHeight < 1 || StrideWidth < 1 || DilationHeight < 1 || DilationWidth < 1)
        {
            throw new OnnxFactorizeException($"conv geometry {this}: kernel, strides and dilations must all be ≥ 1.");
        }

        if (PadTop < 0 || PadLeft < 0 || PadBottom < 0 || PadRight < 0)
        {
            throw new OnnxFactorizeException($"conv geometry {this}: pads must be ≥ 0.");
        }
    }

    /// <summary>Output height and width for an H×W input (ONNX Conv: floor((H + pads − dilation·(k − 1) − 1) / stride) + 1).</summary>
    public (int Height, int Width) OutputSize(int height, int width) =>
        (Out(height, PadTop + PadBottom, KernelHeight, StrideHeight, DilationHeight), Out(width, PadLeft + PadRight, KernelWidth, StrideWidth, DilationWidth));

    /// <summary>Length C·kh·kw of a patch for C input channels.</summary>
    public int PatchLength(int channels) => checked(channels * KernelHeight * KernelWidth);

    /// <summary>Writes the im2col rows of one C×H×W image into <paramref name="patches"/> (oh·ow rows of C·kh·kw, row-major),
    /// zero where the kernel reaches into the padding.</summary>
    public void Patches(ReadOnlySpan<float> image, int channels, int height, int width, Span<float> patches)
    {
        var (oh, ow) = OutputSize(height, width);
        var patch = PatchLength(channels);
        var (kh, kw) = (KernelHeight, KernelWidth);
        patches[..(oh * ow * patch)].Clear();
        for (var p = 0; p < oh; p++)
        {
            for (var q = 0; q < ow; q++)
            {
                var row = patches.Slice((p * ow + q) * patch, patch);
                for (var ch = 0; ch < channels; ch++)
                {
                    for (var i = 0; i < kh; i++)
                    {
                        var y = p * StrideHeight - PadTop + i * DilationHeight;
                        if (y < 0 || y >= height)
                        {
                            continue;
                        }

                        for (var j = 0; j < kw; j++)
                        {
                            var xx = q * StrideWidth - PadLeft + j * DilationWidth;
                            if (xx >= 0 && xx < width)
                            {
                                row[(ch * kh + i) * kw + j] = image[(ch * height + y) * width + xx];
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Short description, e.g. "3×3 stride 1×1 dilation 1×1 pads [1,1,1,1]".</summary>
    public override string ToString() =>
        $"{KernelHeight}×{KernelWidth} stride {StrideHeight}×{StrideWidth} dilation {DilationHeight}×{DilationWidth} pads [{PadTop},{PadLeft},{PadBottom},{PadRight}]";

    private static int Out(int size, int pads, int kernel, int stride, int dilation) => (size + pads - (dilation * (kernel - 1)) - 1) / stride + 1;
}
