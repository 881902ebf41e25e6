using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Planning;

/// <summary>The small models the planner runs instead of one full model per (node, rank): a node isolated in a one-node
/// model (for cheap ladder derivation and latency), and the full model with one node factorized whose factor tensors are
/// graph inputs, so one session serves every rank of the ladder (smaller ranks are fed zero-padded: zero rank components
/// contribute nothing to the product).</summary>
internal static class ProbeModels
{
    /// <summary>Methods whose factor tensors can be zero-padded along their rank axes without changing the result: each
    /// factor's extra rows/columns/channels are zero and no intermediate has a bias (SVD, Tucker-2 and spatial SVD chains).
    /// Other methods (depthwise: channel layout interleaves groups) get one session per rank.</summary>
    public static readonly IReadOnlySet<string> PaddableMethods = new HashSet<string>(StringComparer.Ordinal) { "svd", "tucker2", "spatial-svd" };

    /// <summary>A one-node model: the node (named <paramref name="label"/>), its constant inputs as initializers, its other
    /// inputs as graph inputs with the shapes and types of <paramref name="activations"/>.</summary>
    public static OnnxModel Isolate(ModelGraph graph, Node node, string label, IReadOnlyDictionary<string, TensorData> activations)
    {
        var source = graph.Source.Proto;
        var model = new ModelProto { IrVersion = source.IrVersion, ProducerName = "onnx-factorize-planner" };
        model.OpsetImport.AddRange(source.OpsetImport.Select(o => o.Clone()));
        var g = new GraphProto { Name = "isolated" };
        var proto = node.Proto.Clone();
        proto.Name = label;
        proto.Input.Clear();
        proto.Output.Clear();
        foreach (var input in node.Inputs)
        {
            proto.Input.Add(input?.Name ?? "");
            if (input is null || g.Initializer.Any(t => t.Name == input.Name) || g.Input.Any(i => i.Name == input.Name))
            {
                continue;
            }

            if (PassContext.ConstantTensor(input) is { } tensor)
            {
                var copy = tensor.Clone();
                copy.Name = input.Name;
                g.Initializer.Add(copy);
            }
            else
            {
                var a = activations.TryGetValue(input.Name, out var t) ? t
                    : throw new OnnxFactorizeException($"node '{label}': the shape of input '{input.Name}' could not be measured.");
                g.Input.Add(Info(input.Name, (int)a.ElementType, a.Shape));
            }
        }

        foreach (var output in node.Outputs)
        {
            proto.Output.Add(output.Name);
            g.Output.Add(new ValueInfoProto { Name = output.Name });
        }

        g.Node.Add(proto);
        model.Graph = g;
        return OnnxModel.FromProto(model, $"{graph.Source.Name}:{label}", graph.Source.BaseDirectory);
    }

    /// <summary>Initializers of <paramref name="model"/>'s main graph not named in <paramref name="before"/>, in order: the
    /// factors a pass added.</summary>
    public static IReadOnlyList<TensorProto> NewInitializers(OnnxModel model, IReadOnlySet<string> before) =>
        [.. model.Proto.Graph.Initializer.Where(t => !before.Contains(t.Name))];

    /// <summary>The model bytes with the given factor initializers turned into graph inputs of the padded dims.</summary>
    public static byte[] FeedFactors(OnnxModel factorized, IReadOnlyList<TensorProto> factors, IReadOnlyList<long[]> padded)
    {
        var proto = factorized.Proto.Clone();
        var graph = proto.Graph;
        for (var i = 0; i < factors.Count; i++)
        {
            var t = graph.Initializer.First(x => x.Name == factors[i].Name);
            graph.Initializer.Remove(t);
            graph.Input.Add(Info(t.Name, t.DataType, padded[i]));
        }

        return OnnxModel.FromProto(proto, factorized.Name, factorized.BaseDirectory).ToBytes();
    }

    /// <summary>True when the factor's element type can be fed zero-padded (FLOAT, FLOAT16, DOUBLE).</summary>
    public static bool CanFeed(TensorProto factor) => factor.DataType is (int)TensorProto.Types.DataType.Float
        or (int)TensorProto.Types.DataType.Float16 or (int)TensorProto.Types.DataType.Double;

    /// <summary>The factor's values zero-padded at the end of every axis up to <paramref name="dims"/>, as a feedable tensor named <paramref name="name"/>.</summary>
    public static TensorData Pad(TensorProto factor, string name, long[] dims, OnnxModel owner)
    {
        var values = Onnx.TensorData.ReadFloats(factor, owner.BaseDirectory, owner.Name);
        var from = factor.Dims.ToArray();
        var count = (int)Validation.TensorData.ElementCountOf(dims);
        var padded = new float[count];
        var index = new long[from.Length];
        for (var flat = 0; flat < values.Length; flat++)
        {
            // Row-major position of the same multi-index in the padded shape.
            var rem = (long)flat;
            for (var a = from.Length - 1; a >= 0; a--)
            {
                index[a] = rem % from[a];
                rem /= from[a];
            }

            long target = 0;
            for (var a = 0; a < from.Length; a++)
            {
                target = (target * dims[a]) + index[a];
            }

            padded[target] = values[flat];
        }

        return factor.DataType switch
        {
            (int)TensorProto.Types.DataType.Float16 => TensorData.Create(name, dims, Array.ConvertAll(padded, v => new Float16(BitConverter.HalfToUInt16Bits((Half)v)))),
            (int)TensorProto.Types.DataType.Double => TensorData.Create(name, dims, Array.ConvertAll(padded, v => (double)v)),
            _ => TensorData.Create(name, dims, padded),
        };
    }

    /// <summary>Opens a session on model bytes, turning ONNX Runtime failures into one-line messages.</summary>
    public static InferenceSession Open(byte[] model, SessionOptions options, string what)
    {
        try
        {
            return new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OnnxFactorizeException($"{what}: ONNX Runtime cannot load the probe model ({e.Message.Split('\n', 2)[0].Trim()}).", e);
        }
    }

    /// <summary>The model with the named intermediate values added as outputs (to read their shapes and values).</summary>
    public static byte[] WithOutputs(OnnxModel model, IEnumerable<string> names)
    {
        var proto = model.Proto.Clone();
        var existing = proto.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in names.Where(existing.Add))
        {
            proto.Graph.Output.Add(new ValueInfoProto { Name = name });
        }

        return OnnxModel.FromProto(proto, model.Name, model.BaseDirectory).ToBytes();
    }

    private static ValueInfoProto Info(string name, int elemType, IReadOnlyList<long> dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } } };
    }
}
