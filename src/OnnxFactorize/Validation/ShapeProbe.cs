using Google.Protobuf;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Validation;

/// <summary>Makes a model that only has to report shapes cheap to run: every large floating-point initializer of the main
/// graph becomes a <c>ConstantOfShape</c> node of the same name, type and dims (ONNX operator spec, opset 9+), so ONNX
/// Runtime never reads, copies or pre-packs the weights. Output shapes of every node are unchanged, values are not.</summary>
internal static class ShapeProbe
{
    /// <summary>Initializers with at least this many elements are replaced; small ones (and every integer tensor, which
    /// may feed Reshape or Slice) are kept as they are.</summary>
    public const long MinElements = 4096;

    /// <summary>Replaces the large weights of <paramref name="model"/>'s main graph in place (the caller's own copy).</summary>
    public static void ReplaceWeights(ModelProto model)
    {
        if (!model.OpsetImport.Any(o => o.Domain is "" or "ai.onnx" && o.Version >= 9))
        {
            return;
        }

        var graph = model.Graph;
        var inputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var taken = new HashSet<string>(graph.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        taken.UnionWith(graph.Node.SelectMany(n => n.Output));
        var replaced = new List<NodeProto>();
        for (var i = graph.Initializer.Count - 1; i >= 0; i--)
        {
            var tensor = graph.Initializer[i];
            if (!ElementType.IsFactorizable(tensor.DataType) || inputs.Contains(tensor.Name) || tensor.Dims.Count == 0
                || TensorCodec.ElementCount(tensor) < MinElements)
            {
                continue;
            }

            var shapeName = Unique($"{tensor.Name}__probe_shape", taken);
            var shape = new TensorProto { Name = shapeName, DataType = (int)TensorProto.Types.DataType.Int64 };
            shape.Dims.Add(tensor.Dims.Count);
            shape.Int64Data.AddRange(tensor.Dims);
            var value = new TensorProto { DataType = tensor.DataType, RawData = ByteString.CopyFrom(new byte[ElementType.SizeInBytes(tensor.DataType)]) };
            value.Dims.Add(1);
            var node = new NodeProto { OpType = "ConstantOfShape", Name = Unique($"{tensor.Name}__probe", taken) };
            node.Input.Add(shapeName);
            node.Output.Add(tensor.Name);
            node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
            graph.Initializer.RemoveAt(i);
            graph.Initializer.Add(shape);
            replaced.Add(node);
        }

        replaced.Reverse();
        for (var i = 0; i < replaced.Count; i++)
        {
            graph.Node.Insert(i, replaced[i]);
        }
    }

    private static string Unique(string stem, HashSet<string> taken)
    {
        var name = stem;
        for (var k = 1; !taken.Add(name); k++)
        {
            name = $"{stem}_{k}";
        }

        return name;
    }
}
