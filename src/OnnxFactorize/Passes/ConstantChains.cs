using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Passes;

/// <summary>Weights that exporters leave behind a chain of layout and type ops on a constant: Identity (torch.onnx), Cast
/// from a FLOAT16 initializer to FLOAT (fp16 exports), Transpose of a constant (tf2onnx), Reshape / Squeeze / Unsqueeze of
/// a Constant node (paddle2onnx). The chain is folded into the effective tensor the consumer reads; the graph is not
/// changed (a rewrite reads the folded tensor and rewires only its own node, so other readers of the chain keep it).</summary>
internal static class ConstantChains
{
    // Folded tensors per chain node, so every caller sees one tensor object (decompositions and factors are cached by it).
    private static readonly ConditionalWeakTable<Node, Folded> Cache = new();
    private static readonly Lock Gate = new();

    private sealed record Folded(TensorProto Source, Value?[] Inputs, TensorProto? Tensor, string? Problem);

    /// <summary>The tensor <paramref name="value"/> holds when it is a constant, possibly behind a foldable chain; null with
    /// <paramref name="problem"/> set when a chain from a constant could not be followed, null with no problem when the
    /// value is computed at run time.</summary>
    public static TensorProto? Resolve(Value value, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Resolve(value, 0, out problem);
    }

    /// <summary>The value holding the constant at the root of the chain behind <paramref name="value"/>: an initializer or a
    /// Constant node's output; null for anything computed.</summary>
    public static Value? Root(Value value)
    {
        for (var hops = 0; hops < 64; hops++)
        {
            if (value.Initializer is not null || ConstantNodeTensor(value) is not null)
            {
                return value;
            }

            if (value.Producer is { IsDefaultDomain: true, Inputs: [{ } source, ..] } producer && IsFollowed(producer.OpType))
            {
                value = source;
                continue;
            }

            return null;
        }

        return null;
    }

    /// <summary>The <c>value</c> tensor of the Constant node producing <paramref name="value"/>, else null.</summary>
    public static TensorProto? ConstantNodeTensor(Value? value) =>
        value?.Producer is { OpType: "Constant", IsDefaultDomain: true, Inputs.Count: 0 } producer && producer.Attribute("value")?.T is { } t ? t : null;

    private static bool IsFollowed(string opType) => opType is "Identity" or "Cast" or "Transpose" or "Reshape" or "Squeeze" or "Unsqueeze";

    private static TensorProto? Resolve(Value value, int depth, out string? problem)
    {
        problem = null;
        if (value.Initializer is { } initializer)
        {
            return initializer;
        }

        if (ConstantNodeTensor(value) is { } constant)
        {
            return constant;
        }

        if (depth >= 64 || value.Producer is not { IsDefaultDomain: true, Inputs: [{ } input, ..] } node || !IsFollowed(node.OpType))
        {
            return null;
        }

        var source = Resolve(input, depth + 1, out problem);
        if (source is null || node.OpType == "Identity")
        {
            return source;
        }

        lock (Gate)
        {
            if (Cache.TryGetValue(node, out var folded) && ReferenceEquals(folded.Source, source) && folded.Inputs.SequenceEqual(node.Inputs))
            {
                problem = folded.Problem;
                return folded.Tensor;
            }

            var tensor = Fold(node, value, source, out problem);
            Cache.AddOrUpdate(node, new Folded(source, [.. node.Inputs], tensor, problem));
            return tensor;
        }
    }

    private static TensorProto? Fold(Node node, Value output, TensorProto source, out string? problem)
    {
        problem = null;
        var what = $"{node.OpType} '{PassContext.Label(node)}'";
        var type = source.DataType;
        if (!ElementType.IsFactorizable(type))
        {
            problem = $"weight '{output.Name}' is a {what} of a constant of element type {ElementType.Name(type)}; only FLOAT, FLOAT16, BFLOAT16 and DOUBLE constants are followed through it";
            return null;
        }

        var dims = source.Dims.ToArray();
        long[]? newDims;
        int[]? perm = null;
        switch (node.OpType)
        {
            case "Cast":
                var to = (int)node.GetInt("to", 0);
                if (!ElementType.IsFactorizable(to))
                {
                    problem = $"weight '{output.Name}' is a {what} to {ElementType.Name(to)}; only casts to FLOAT, FLOAT16, BFLOAT16 or DOUBLE are folded";
                    return null;
                }

                type = to;
                newDims = dims;
                break;
            case "Transpose":
                perm = node.GetInts("perm")?.Select(p => (int)p).ToArray() ?? [.. Enumerable.Range(0, dims.Length).Reverse()];
                if (perm.Length != dims.Length || perm.Order().Where((p, i) => p != i).Any())
                {
                    problem = $"weight '{output.Name}': {what} has perm [{string.Join(',', perm)}], not a permutation of the constant's {dims.Length} axes";
                    return null;
                }

                newDims = [.. perm.Select(p => dims[p])];
                break;
            case "Reshape":
                newDims = ReshapeDims(node, output, dims, out problem);
                break;
            default:
                newDims = SqueezeDims(node, output, dims, out problem);
                break;
        }

        if (newDims is null)
        {
            problem ??= $"weight '{output.Name}': {what} could not be folded";
            return null;
        }

        var values = node.Graph.Model.ReadFloats(source);
        if (perm is not null)
        {
            values = Transpose(values, dims, perm);
        }

        problem = null;
        return TensorCodec.Create(output.Name, newDims, values, type);
    }

    private static long[]? ReshapeDims(Node node, Value output, long[] dims, out string? problem)
    {
        problem = null;
        var shapeTensor = node.Inputs.Count > 1 && node.Inputs[1] is { } s ? Resolve(s, 0, out _) : null;
        var shape = shapeTensor is null ? null : ReadInt64s(node, shapeTensor);
        if (shape is null)
        {
            problem = $"weight '{output.Name}': the target shape of Reshape '{PassContext.Label(node)}' is not a constant INT64 tensor";
            return null;
        }

        var count = dims.Aggregate(1L, (a, d) => a * d);
        var allowZero = node.GetInt("allowzero", 0) != 0;
        var result = new long[shape.Length];
        var inferred = -1;
        for (var i = 0; i < shape.Length; i++)
        {
            result[i] = shape[i] == 0 && !allowZero ? (i < dims.Length ? dims[i] : -2) : shape[i];
            if (result[i] == -1 && inferred < 0)
            {
                inferred = i;
            }
            else if (result[i] < 0)
            {
                problem = $"weight '{output.Name}': Reshape '{PassContext.Label(node)}' has an invalid target shape [{string.Join(',', shape)}]";
                return null;
            }
        }

        var known = result.Where((d, i) => i != inferred).Aggregate(1L, (a, d) => a * d);
        if (inferred >= 0)
        {
            result[inferred] = known > 0 && count % known == 0 ? count / known : -1;
        }

        if (result.Any(d => d < 0) || result.Aggregate(1L, (a, d) => a * d) != count)
        {
            problem = $"weight '{output.Name}': Reshape '{PassContext.Label(node)}' to [{string.Join(',', shape)}] does not match the constant's {count} elements";
            return null;
        }

        return result;
    }

    private static long[]? SqueezeDims(Node node, Value output, long[] dims, out string? problem)
    {
        problem = null;
        // Opset < 13 gives the axes as an attribute, opset 13 on as an optional second input.
        var axes = node.GetInts("axes")?.ToArray();
        if (axes is null && node.Inputs.Count > 1 && node.Inputs[1] is { } axesInput)
        {
            axes = Resolve(axesInput, 0, out _) is { } t ? ReadInt64s(node, t) : null;
            if (axes is null)
            {
                problem = $"weight '{output.Name}': the axes of {node.OpType} '{PassContext.Label(node)}' are not a constant INT64 tensor";
                return null;
            }
        }

        var list = dims.ToList();
        if (node.OpType == "Squeeze")
        {
            var normalized = (axes ?? [.. Enumerable.Range(0, dims.Length).Where(i => dims[i] == 1).Select(i => (long)i)])
                .Select(a => a < 0 ? a + dims.Length : a).Distinct().OrderDescending().ToList();
            if (normalized.Any(a => a < 0 || a >= dims.Length || dims[a] != 1))
            {
                problem = $"weight '{output.Name}': Squeeze '{PassContext.Label(node)}' names axes that are not of size 1";
                return null;
            }

            foreach (var a in normalized)
            {
                list.RemoveAt((int)a);
            }

            return [.. list];
        }

        if (axes is null)
        {
            problem = $"weight '{output.Name}': Unsqueeze '{PassContext.Label(node)}' has no axes";
            return null;
        }

        var rank = dims.Length + axes.Length;
        var inserted = axes.Select(a => a < 0 ? a + rank : a).Order().ToList();
        if (inserted.Distinct().Count() != inserted.Count || inserted.Any(a => a < 0 || a >= rank))
        {
            problem = $"weight '{output.Name}': Unsqueeze '{PassContext.Label(node)}' has invalid axes [{string.Join(',', axes)}]";
            return null;
        }

        foreach (var a in inserted)
        {
            list.Insert((int)a, 1);
        }

        return [.. list];
    }

    private static long[]? ReadInt64s(Node node, TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Int64)
        {
            return null;
        }

        if (tensor.Int64Data.Count > 0)
        {
            return [.. tensor.Int64Data];
        }

        var model = node.Graph.Model.Source;
        var raw = ExternalData.IsExternal(tensor) ? ExternalData.ReadBytes(tensor, model.BaseDirectory, model.Name) : tensor.RawData.ToByteArray();
        var result = new long[raw.Length / 8];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = BinaryPrimitives.ReadInt64LittleEndian(raw.AsSpan(i * 8));
        }

        return result;
    }

    // Row-major transpose of an N-d tensor: output axis i is input axis perm[i] (ONNX Transpose).
    private static float[] Transpose(float[] values, long[] dims, int[] perm)
    {
        var rank = dims.Length;
        var inStrides = new long[rank];
        var stride = 1L;
        for (var i = rank - 1; i >= 0; i--)
        {
            inStrides[i] = stride;
            stride *= dims[i];
        }

        var outDims = perm.Select(p => dims[p]).ToArray();
        var result = new float[values.Length];
        var index = new long[rank];
        for (var o = 0; o < result.Length; o++)
        {
            var source = 0L;
            for (var i = 0; i < rank; i++)
            {
                source += index[i] * inStrides[perm[i]];
            }

            result[o] = values[source];
            for (var i = rank - 1; i >= 0; i--)
            {
                if (++index[i] < outDims[i])
                {
                    break;
                }

                index[i] = 0;
            }
        }

        return result;
    }
}
