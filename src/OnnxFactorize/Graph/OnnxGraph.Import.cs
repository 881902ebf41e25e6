using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Graph;

/// <content>Building the editable graph from a <see cref="GraphProto"/> and writing it back.</content>
public sealed partial class OnnxGraph
{
    internal static OnnxGraph Import(ModelGraph model, OnnxGraph? parent, Node? ownerNode, string path, GraphProto proto)
    {
        var graph = new OnnxGraph(model, parent, ownerNode, path, proto);
        graph.ImportBody(proto);
        return graph;
    }

    private void ImportBody(GraphProto proto)
    {
        // Definitions first (inputs, initializers, every node output), so inputs can be resolved whatever the node order.
        foreach (var info in proto.Input)
        {
            var value = DefineOrGet(info.Name);
            value.IsGraphInput = true;
            value.Info ??= info;
            _inputs.Add(value);
            _inputInfos.Add(info);
        }

        foreach (var tensor in proto.Initializer)
        {
            var value = DefineOrGet(tensor.Name);
            value.Initializer = tensor;
            _initializers.Add(value);
        }

        foreach (var sparse in proto.SparseInitializer)
        {
            var name = sparse.Values?.Name ?? "";
            if (name.Length > 0)
            {
                DefineOrGet(name).IsSparseInitializer = true;
            }
        }

        foreach (var nodeProto in proto.Node)
        {
            var node = new Node(this, nodeProto);
            foreach (var output in nodeProto.Output)
            {
                // An empty output name marks an omitted optional output; keep it as an anonymous placeholder.
                node.AddOutput(output.Length == 0 ? new Value(this, "") : DefineOrGet(output));
            }

            _nodes.Add(node);
        }

        foreach (var info in proto.ValueInfo)
        {
            _valueInfos.Add(info);
            if (_values.TryGetValue(info.Name, out var v))
            {
                v.Info ??= info;
            }
        }

        foreach (var info in proto.Output)
        {
            var value = Find(info.Name) ?? throw new OnnxFactorizeException(
                $"graph '{DisplayPath}': output '{info.Name}' is produced by no node, input or initializer; the model is malformed.");
            if (value.Graph == this)
            {
                value.Info ??= info;
            }

            _outputs.Add(value);
            _outputInfos.Add(info);
        }

        foreach (var node in _nodes)
        {
            foreach (var input in node.Proto.Input)
            {
                if (input.Length == 0)
                {
                    node.AddInputSlot(null);
                    continue;
                }

                var value = Find(input) ?? throw new OnnxFactorizeException(
                    $"graph '{DisplayPath}': node {node} reads '{input}', which no node, input or initializer defines; the model is malformed.");
                node.AddInputSlot(value);
            }

            ImportSubgraphs(node);
        }
    }

    private void ImportSubgraphs(Node node)
    {
        var label = string.IsNullOrEmpty(node.Name) ? $"{node.OpType}#{_nodes.IndexOf(node)}" : node.Name;
        foreach (var attribute in node.Proto.Attribute)
        {
            var prefix = Path.Length == 0 ? "" : Path + "/";
            if (attribute.G is not null)
            {
                node.AddSubgraph(attribute.Name, -1, Import(Model, this, node, $"{prefix}{label}/{attribute.Name}", attribute.G));
            }

            for (var i = 0; i < attribute.Graphs.Count; i++)
            {
                node.AddSubgraph(attribute.Name, i, Import(Model, this, node, $"{prefix}{label}/{attribute.Name}[{i}]", attribute.Graphs[i]));
            }
        }
    }

    private string DisplayPath => Path.Length == 0 ? (Name.Length == 0 ? "main" : Name) : Path;

    private Value DefineOrGet(string name)
    {
        if (!_values.TryGetValue(name, out var value))
        {
            value = Define(name);
        }

        return value;
    }

    /// <summary>Writes the graph back: everything it did not change (name, doc string, sparse initializers, annotations,
    /// metadata, unknown fields, value_info of surviving values) is kept as it was.</summary>
    internal GraphProto Export()
    {
        var proto = _template.Clone();
        foreach (var node in _nodes)
        {
            proto.Node.Add(ExportNode(node));
        }

        foreach (var value in _initializers)
        {
            value.Initializer!.Name = value.Name;
            proto.Initializer.Add(value.Initializer);
        }

        proto.Input.AddRange(_inputInfos);
        proto.Output.AddRange(_outputInfos);
        foreach (var info in _valueInfos)
        {
            if (_values.ContainsKey(info.Name))
            {
                proto.ValueInfo.Add(info);
            }
        }

        return proto;
    }

    internal static NodeProto ExportNode(Node node)
    {
        var proto = node.Proto.Clone();
        SyncNames(proto.Input, node.Inputs.Select(v => v?.Name ?? ""));
        SyncNames(proto.Output, node.Outputs.Select(v => v.Name));
        foreach (var (attributeName, index, subgraph) in node.SubgraphSlots)
        {
            var attribute = proto.Attribute.First(a => a.Name == attributeName);
            if (index < 0)
            {
                attribute.G = subgraph.Export();
            }
            else
            {
                attribute.Graphs[index] = subgraph.Export();
            }
        }

        return proto;
    }

    private static void SyncNames(Google.Protobuf.Collections.RepeatedField<string> field, IEnumerable<string> names)
    {
        var list = names.ToList();
        if (!field.SequenceEqual(list, StringComparer.Ordinal))
        {
            field.Clear();
            field.AddRange(list);
        }
    }
}
