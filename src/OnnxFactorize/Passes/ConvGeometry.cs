using OnnxFactorize.Graph;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Passes;

/// <summary>The attributes of one Conv node (ONNX Conv, opset 1–22), normalized: kernel from the weight (checked against
/// kernel_shape when present), strides, dilations, explicit pads [x1_begin, x2_begin, …, x1_end, x2_end], auto_pad, group,
/// and the static input/output spatial sizes when known.</summary>
public sealed record ConvGeometry
{
    /// <summary>Output channels C_out.</summary>
    public required int OutChannels { get; init; }

    /// <summary>Input channels per group (C_in / group).</summary>
    public required int InPerGroup { get; init; }

    /// <summary>The group attribute.</summary>
    public required int Group { get; init; }

    /// <summary>Kernel dims (1 for Conv1d, 2 for Conv2d, …).</summary>
    public required long[] Kernel { get; init; }

    /// <summary>Strides per spatial axis.</summary>
    public required long[] Strides { get; init; }

    /// <summary>Dilations per spatial axis.</summary>
    public required long[] Dilations { get; init; }

    /// <summary>Explicit pads (begins then ends); all zero unless auto_pad is NOTSET.</summary>
    public required long[] Pads { get; init; }

    /// <summary>NOTSET, SAME_UPPER, SAME_LOWER or VALID.</summary>
    public required string AutoPad { get; init; }

    /// <summary>Static input spatial dims, or null when unknown.</summary>
    public long[]? InputSpatial { get; init; }

    /// <summary>Static output spatial dims, or null when unknown.</summary>
    public long[]? OutputSpatial { get; init; }

    /// <summary>Number of spatial axes.</summary>
    public int SpatialRank => Kernel.Length;

    /// <summary>All input channels C_in.</summary>
    public int InChannels => InPerGroup * Group;

    /// <summary>Product of the kernel dims.</summary>
    public int KernelSize => (int)Kernel.Aggregate(1L, (a, b) => a * b);

    /// <summary>True when every kernel dim is 1.</summary>
    public bool IsPointwise => Kernel.All(k => k == 1);

    /// <summary>Output positions per image (product of output spatial dims), 1 when unknown so FLOPs fall back to per-position counts.</summary>
    public long OutputPositions => OutputSpatial?.Aggregate(1L, (a, b) => a * b) ?? 1;

    /// <summary>Input positions per image, 1 when unknown.</summary>
    public long InputPositions => InputSpatial?.Aggregate(1L, (a, b) => a * b) ?? 1;

    /// <summary>True when the output spatial size is known, so FLOPs are absolute.</summary>
    public bool HasStaticShapes => OutputSpatial is not null;

    /// <summary>Reads the node's attributes against the weight shape [C_out, C_in/group, k…]; null with a reason when they
    /// are inconsistent or unsupported.</summary>
    public static ConvGeometry? Parse(Node node, IReadOnlyList<long> weightShape, out string reason)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(weightShape);
        var n = weightShape.Count - 2;
        if (n < 1)
        {
            reason = $"weight has rank {weightShape.Count}; Conv needs [C_out, C_in/group, k…]";
            return null;
        }

        var kernel = weightShape.Skip(2).ToArray();
        if (kernel.Any(k => k < 1) || weightShape[0] < 1 || weightShape[1] < 1)
        {
            reason = $"weight shape [{string.Join(", ", weightShape)}] has an empty dimension";
            return null;
        }

        var declared = node.GetInts("kernel_shape");
        if (declared is not null && !declared.SequenceEqual(kernel))
        {
            reason = $"kernel_shape [{string.Join(", ", declared)}] does not match the weight's kernel [{string.Join(", ", kernel)}]";
            return null;
        }

        var strides = node.GetInts("strides")?.ToArray() ?? Enumerable.Repeat(1L, n).ToArray();
        var dilations = node.GetInts("dilations")?.ToArray() ?? Enumerable.Repeat(1L, n).ToArray();
        var autoPad = node.GetString("auto_pad", "NOTSET");
        var pads = node.GetInts("pads")?.ToArray() ?? new long[2 * n];
        if (strides.Length != n || dilations.Length != n || pads.Length != 2 * n)
        {
            reason = $"strides/dilations/pads lengths ({strides.Length}, {dilations.Length}, {pads.Length}) do not fit a {n}-d kernel";
            return null;
        }

        if (autoPad is not ("NOTSET" or "SAME_UPPER" or "SAME_LOWER" or "VALID"))
        {
            reason = $"auto_pad '{autoPad}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID";
            return null;
        }

        if (autoPad != "NOTSET")
        {
            pads = new long[2 * n];
        }

        var group = node.GetInt("group", 1);
        if (group < 1 || strides.Any(s => s < 1) || dilations.Any(d => d < 1) || pads.Any(p => p < 0))
        {
            reason = "group, strides and dilations must be positive and pads non-negative";
            return null;
        }

        var input = node.Inputs[0] is { } x ? PassContext.ShapeOf(x) : null;
        long[]? inputSpatial = input is not null && input.Count == n + 2 && input.Skip(2).All(d => d > 0) ? input.Skip(2).ToArray() : null;
        var geometry = new ConvGeometry
        {
            OutChannels = (int)weightShape[0],
            InPerGroup = (int)weightShape[1],
            Group = (int)group,
            Kernel = kernel,
            Strides = strides,
            Dilations = dilations,
            Pads = pads,
            AutoPad = autoPad,
            InputSpatial = inputSpatial,
        };
        var output = PassContext.ShapeOf(node.Outputs[0]);
        var outputSpatial = inputSpatial is not null
            ? Enumerable.Range(0, n).Select(geometry.OutputSize).ToArray()
            : output is not null && output.Count == n + 2 && output.Skip(2).All(d => d > 0) ? output.Skip(2).ToArray() : null;
        reason = "";
        return geometry with { OutputSpatial = outputSpatial };
    }

    /// <summary>Output size along spatial axis <paramref name="axis"/> (ONNX Conv shape inference; needs the input size).</summary>
    public long OutputSize(int axis)
    {
        var input = InputSpatial![axis];
        var extent = Dilations[axis] * (Kernel[axis] - 1) + 1;
        return AutoPad switch
        {
            "SAME_UPPER" or "SAME_LOWER" => (input + Strides[axis] - 1) / Strides[axis],
            "VALID" => Math.Max(0, (input - extent) / Strides[axis] + 1),
            _ => Math.Max(0, (input + Pads[axis] + Pads[axis + SpatialRank] - extent) / Strides[axis] + 1),
        };
    }

    /// <summary>Attributes of a conv that does the spatial work of this one on the axes in <paramref name="keep"/> (kernel,
    /// stride, dilation, padding) and is 1-wide, unstrided and unpadded on the others. With auto_pad SAME_* or VALID the
    /// mode is kept: ONNX computes SAME padding per axis, and a 1-wide unit-stride axis gets none, so it splits exactly.</summary>
    public List<AttributeProto> Attributes(bool[] keep, int group = 1)
    {
        ArgumentNullException.ThrowIfNull(keep);
        var n = SpatialRank;
        var attributes = new List<AttributeProto>
        {
            NodeAttributes.Ints("kernel_shape", Enumerable.Range(0, n).Select(a => keep[a] ? Kernel[a] : 1L)),
        };
        if (Enumerable.Range(0, n).Any(a => keep[a] && Strides[a] != 1))
        {
            attributes.Add(NodeAttributes.Ints("strides", Enumerable.Range(0, n).Select(a => keep[a] ? Strides[a] : 1L)));
        }

        if (Enumerable.Range(0, n).Any(a => keep[a] && Dilations[a] != 1))
        {
            attributes.Add(NodeAttributes.Ints("dilations", Enumerable.Range(0, n).Select(a => keep[a] ? Dilations[a] : 1L)));
        }

        if (AutoPad != "NOTSET" && keep.Any(k => k))
        {
            attributes.Add(NodeAttributes.String("auto_pad", AutoPad));
        }
        else if (Enumerable.Range(0, n).Any(a => keep[a] && (Pads[a] != 0 || Pads[a + n] != 0)))
        {
            attributes.Add(NodeAttributes.Ints("pads", Enumerable.Range(0, 2 * n).Select(j => keep[j % n] ? Pads[j] : 0L)));
        }

        if (group != 1)
        {
            attributes.Add(NodeAttributes.Int("group", group));
        }

        return attributes;
    }

    /// <summary>Keep-mask selecting every spatial axis.</summary>
    public bool[] AllAxes => Enumerable.Repeat(true, SpatialRank).ToArray();

    /// <summary>Keep-mask selecting no spatial axis (a 1×1 conv).</summary>
    public bool[] NoAxes => new bool[SpatialRank];
}
