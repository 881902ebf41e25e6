using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Onnx;

/// <summary>The structural rules of the ONNX IR spec that a model must keep before anything reads or rewrites it: a
/// positive ir_version, at least one opset import, every value defined once (SSA), nodes in topological order (so no
/// cycle), graph outputs defined, tensor dims non-negative and matching the bytes stored, and the element-type
/// constraints of the operators this tool rewrites. Read-only: checking never changes the model.</summary>
public static class ModelCheck
{
    /// <summary>Largest element count a tensor may declare (2^31): beyond it no .NET array and no ORT session holds it here.</summary>
    public const long MaxElements = 1L << 31;

    // ONNX operator spec type constraints (T) of the ops we rewrite, for the inputs' element types.
    private static readonly HashSet<int> GemmMatMulTypes =
    [
        (int)TensorProto.Types.DataType.Float16, (int)TensorProto.Types.DataType.Float, (int)TensorProto.Types.DataType.Double,
        (int)TensorProto.Types.DataType.Bfloat16, (int)TensorProto.Types.DataType.Int32, (int)TensorProto.Types.DataType.Int64,
        (int)TensorProto.Types.DataType.Uint32, (int)TensorProto.Types.DataType.Uint64,
    ];

    private static readonly HashSet<int> ConvTypes =
    [
        (int)TensorProto.Types.DataType.Float16, (int)TensorProto.Types.DataType.Float, (int)TensorProto.Types.DataType.Double,
        (int)TensorProto.Types.DataType.Bfloat16,
    ];

    /// <summary>Throws <see cref="OnnxFactorizeException"/> with one line naming <paramref name="name"/> and the broken rule.</summary>
    public static void Validate(ModelProto model, string name)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.IrVersion < 1)
        {
            throw Broken(name, $"ir_version is {model.IrVersion}; ONNX models start at ir_version 1");
        }

        if (model.OpsetImport.Count == 0)
        {
            throw Broken(name, "it imports no opset (opset_import is empty), so no operator has a defined meaning");
        }

        if (model.Graph is null)
        {
            throw Broken(name, "it has no graph");
        }

        foreach (var tensor in ModelTensors.All(model))
        {
            CheckTensor(tensor, name);
        }

        CheckGraph(model.Graph, name, outer: null);
    }

    /// <summary>Checks a tensor's dims (non-negative, at most <see cref="MaxElements"/> elements) and that inline data holds
    /// exactly the bytes or values they need.</summary>
    public static void CheckTensor(TensorProto tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var count = ElementCount(tensor, name);
        if (ExternalData.IsExternal(tensor) || tensor.Segment is not null)
        {
            return;
        }

        var size = ElementType.SizeInBytes(tensor.DataType);
        if (tensor.HasRawData)
        {
            if (size > 0 && tensor.RawData.Length != count * size)
            {
                throw Broken(name, $"tensor '{tensor.Name}' holds {tensor.RawData.Length} bytes but its dims [{string.Join(',', tensor.Dims)}] need {count * size}");
            }

            return;
        }

        var typed = (long)tensor.FloatData.Count + tensor.DoubleData.Count + tensor.Int32Data.Count + tensor.Int64Data.Count
            + tensor.Uint64Data.Count + tensor.StringData.Count;
        if (typed != 0 && typed != count && (TensorProto.Types.DataType)tensor.DataType is not (TensorProto.Types.DataType.Complex64 or TensorProto.Types.DataType.Complex128))
        {
            throw Broken(name, $"tensor '{tensor.Name}' holds {typed} values but its dims [{string.Join(',', tensor.Dims)}] need {count}");
        }
    }

    /// <summary>Checks that <paramref name="length"/> bytes of raw data (kept in the model file until read) are exactly what
    /// the tensor's dims need, as <see cref="CheckTensor"/> checks inline raw_data.</summary>
    internal static void CheckRawLength(TensorProto tensor, long length, string name)
    {
        var count = ElementCount(tensor, name);
        var size = ElementType.SizeInBytes(tensor.DataType);
        if (size > 0 && tensor.Segment is null && length != count * size)
        {
            throw Broken(name, $"tensor '{tensor.Name}' holds {length} bytes but its dims [{string.Join(',', tensor.Dims)}] need {count * size}");
        }
    }

    /// <summary>The element count of a tensor's dims, refusing negative dims and counts above <see cref="MaxElements"/>.</summary>
    public static long ElementCount(TensorProto tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        long count = 1;
        foreach (var d in tensor.Dims)
        {
            if (d < 0)
            {
                throw Broken(name, $"tensor '{tensor.Name}' has a negative dim in [{string.Join(',', tensor.Dims)}]");
            }

            // Compare before multiplying so the product never overflows.
            if (d != 0 && count > MaxElements / d)
            {
                throw Broken(name, $"tensor '{tensor.Name}' dims [{string.Join(',', tensor.Dims)}] declare more than 2^31 elements");
            }

            count *= d;
        }

        return count;
    }

    private static void CheckGraph(GraphProto graph, string name, HashSet<string>? outer)
    {
        var where = outer is null ? "" : $" in subgraph '{graph.Name}'";
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in graph.Input)
        {
            if (input.Name.Length > 0 && !defined.Add(input.Name))
            {
                throw Broken(name, $"graph input '{input.Name}'{where} is declared twice");
            }
        }

        var initializers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var init in graph.Initializer.Select(t => t.Name).Concat(graph.SparseInitializer.Select(s => s.Values?.Name ?? "")))
        {
            if (init.Length > 0 && !initializers.Add(init))
            {
                throw Broken(name, $"initializer '{init}'{where} is defined twice");
            }
        }

        // An initializer may share its name with a graph input (an overridable default), nothing else may repeat.
        defined.UnionWith(initializers);
        var types = ElementTypes(graph);
        foreach (var node in graph.Node)
        {
            var label = node.Name.Length > 0 ? $"node '{node.Name}' ({node.OpType})" : $"a {node.OpType} node";
            foreach (var input in node.Input)
            {
                if (input.Length > 0 && !defined.Contains(input) && (outer is null || !outer.Contains(input)))
                {
                    throw Broken(name, $"input '{input}' of {label}{where} is not a graph input, an initializer or an output of an earlier node (the graph has a cycle, is not topologically sorted, or names a missing value)");
                }
            }

            CheckTypes(node, label, types, name);
            foreach (var attribute in node.Attribute)
            {
                var scope = new HashSet<string>(defined, StringComparer.Ordinal);
                if (outer is not null)
                {
                    scope.UnionWith(outer);
                }

                if (attribute.G is not null)
                {
                    CheckGraph(attribute.G, name, scope);
                }

                foreach (var g in attribute.Graphs)
                {
                    CheckGraph(g, name, scope);
                }
            }

            foreach (var output in node.Output)
            {
                if (output.Length > 0 && !defined.Add(output))
                {
                    throw Broken(name, $"value '{output}' produced by {label}{where} is already defined (by another node, a graph input or an initializer); every value must have one producer");
                }
            }
        }

        foreach (var output in graph.Output)
        {
            if (output.Name.Length > 0 && !defined.Contains(output.Name) && (outer is null || !outer.Contains(output.Name)))
            {
                throw Broken(name, $"graph output '{output.Name}'{where} is produced by no node, input or initializer");
            }
        }
    }

    private static Dictionary<string, int> ElementTypes(GraphProto graph)
    {
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var input in graph.Input)
        {
            if (input.Type?.TensorType is { } tensorType && tensorType.ElemType != 0)
            {
                types[input.Name] = tensorType.ElemType;
            }
        }

        foreach (var init in graph.Initializer)
        {
            types[init.Name] = init.DataType;
        }

        return types;
    }

    private static void CheckTypes(NodeProto node, string label, Dictionary<string, int> types, string name)
    {
        if (node.Domain is not ("" or "ai.onnx"))
        {
            return;
        }

        var allowed = node.OpType switch
        {
            "Gemm" or "MatMul" => GemmMatMulTypes,
            "Conv" => ConvTypes,
            _ => null,
        };
        if (allowed is null)
        {
            return;
        }

        // Gemm's C, MatMul's B, Conv's W and B share T with the first input.
        for (var i = 0; i < node.Input.Count; i++)
        {
            if (types.TryGetValue(node.Input[i], out var type) && !allowed.Contains(type))
            {
                throw Broken(name, $"input '{node.Input[i]}' of {label} is {ElementType.Name(type)}, which {node.OpType} does not accept (ONNX type constraint T); use a float weight or the quantized operators");
            }
        }
    }

    private static OnnxFactorizeException Broken(string name, string rule) =>
        new($"{name}: invalid ONNX model: {rule}; fix or re-export the model.");
}
