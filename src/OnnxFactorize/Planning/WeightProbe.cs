using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Planning;

/// <summary>The model with the weight input of every measured candidate turned into a graph input of its own, so one
/// ONNX Runtime session measures any combination of ranks: a factorized node computes X·Ŵ with Ŵ = A·B (or the kernel its
/// conv chain amounts to), so feeding <see cref="FactorizationPlan.Reconstruct"/> in place of W gives exactly the factorized
/// model's outputs (up to float rounding) without emitting a rewrite per rank.</summary>
internal sealed class WeightProbe
{
    private readonly FactorizationCandidate[] _candidates;
    private readonly string[] _names;
    private readonly TensorData[] _originals;

    private WeightProbe(byte[] bytes, FactorizationCandidate[] candidates, string[] names, TensorData[] originals)
    {
        Bytes = bytes;
        _candidates = candidates;
        _names = names;
        _originals = originals;
    }

    /// <summary>The probe model's bytes.</summary>
    public byte[] Bytes { get; }

    /// <summary>True when the weight's element type can be fed (FLOAT, FLOAT16, DOUBLE).</summary>
    public static bool CanFeed(FactorizationCandidate candidate) =>
        PassContext.ConstantTensor(candidate.Weight)?.DataType is (int)TensorProto.Types.DataType.Float
            or (int)TensorProto.Types.DataType.Float16 or (int)TensorProto.Types.DataType.Double;

    /// <summary>Builds the probe of <paramref name="model"/> for <paramref name="candidates"/> (matched on a graph imported
    /// from the same model, main graph only; each must satisfy <see cref="CanFeed"/>). The edit goes through a graph of
    /// its own; the candidates' graph is not touched.</summary>
    public static WeightProbe Build(OnnxModel model, IReadOnlyList<FactorizationCandidate> candidates)
    {
        var probe = ModelGraph.Import(model);
        var names = new string[candidates.Count];
        var originals = new TensorData[candidates.Count];
        for (var i = 0; i < candidates.Count; i++)
        {
            var c = candidates[i];
            var index = c.Node.Graph.Nodes.ToList().IndexOf(c.Node);
            var node = probe.Main.Nodes[index];
            var type = PassContext.ConstantTensor(c.Weight)!.DataType;
            var input = probe.Main.AddInput(c.Label + "__weight", type, c.WeightShape);
            node.SetInput(c.WeightIndex, input);
            names[i] = input.Name;
            originals[i] = Feed(input.Name, type, [.. c.WeightShape], c.Values);
        }

        return new WeightProbe(probe.Export().ToBytes(), [.. candidates], names, originals);
    }

    /// <summary>The weight feeds: every candidate's original weight except those in <paramref name="replaced"/> (candidate
    /// index → Ŵ in the stored layout).</summary>
    public IReadOnlyList<TensorData> Feeds(IReadOnlyDictionary<int, float[]> replaced)
    {
        var feeds = new TensorData[_names.Length];
        for (var i = 0; i < feeds.Length; i++)
        {
            feeds[i] = replaced.TryGetValue(i, out var values)
                ? Feed(_names[i], PassContext.ConstantTensor(_candidates[i].Weight)!.DataType, [.. _candidates[i].WeightShape], values)
                : _originals[i];
        }

        return feeds;
    }

    internal static TensorData Feed(string name, int type, long[] dims, float[] values) => type switch
    {
        (int)TensorProto.Types.DataType.Float16 => TensorData.Create(name, dims, Array.ConvertAll(values, v => new Microsoft.ML.OnnxRuntime.Float16(BitConverter.HalfToUInt16Bits((Half)v)))),
        (int)TensorProto.Types.DataType.Double => TensorData.Create(name, dims, Array.ConvertAll(values, v => (double)v)),
        _ => TensorData.Create(name, dims, values),
    };
}
