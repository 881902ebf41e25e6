using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Passes;

/// <summary>A Conv factorization method usable on its own (as a pass that only tries this method) or by
/// <see cref="ConvFactorizationPass"/>, which plans several and emits the cheapest.</summary>
public abstract class ConvMethodPass : IFactorizationPass
{
    private protected ConvMethodPass()
    {
    }

    /// <inheritdoc/>
    public string OpType => "Conv";

    /// <summary>Method name as in <see cref="FactorizeOptions.Methods"/>.</summary>
    public abstract string Method { get; }

    /// <summary>When false, the rank the policy asks for is used even if the chain is not smaller than the conv (exact
    /// re-parameterizations and tests); FLOP and parameter counts are still reported.</summary>
    public bool RequireSavings { get; init; } = true;

    /// <inheritdoc/>
    public FactorizationDecision Apply(Node node, PassContext context) => ConvFactorizationPass.Decide(node, context, [this], auto: false, RequireSavings);

    /// <summary>Why this method cannot handle the geometry, or null when it can.</summary>
    internal abstract string? Unsupported(ConvGeometry geometry);

    /// <summary>Decomposes the kernel and prices the chain without touching the graph; null with a reason when no rank fits.</summary>
    internal abstract ConvCandidate? Plan(ConvSubject subject, ConvTarget target, bool requireSavings, out string reason);

    /// <summary>Applies a rank policy to a spectrum, with rounding and break-even, for the matrix-shaped methods.</summary>
    private protected static RankChoice Choose(ConvSubject subject, ConvTarget target, ReadOnlySpan<double> spectrum, double frob2, int rows, int cols)
    {
        var choice = RankSelection.Choose(target.Policy, spectrum, frob2, rows, cols, subject.Context.Options.RankMultiple);
        return choice with { Rank = Math.Clamp(choice.Rank, 1, Math.Min(rows, cols)) };
    }

    /// <summary>‖W − Ŵ‖_F / ‖W‖_F over two same-order arrays.</summary>
    private protected static double RelativeError(ReadOnlySpan<float> w, ReadOnlySpan<float> approx)
    {
        double diff = 0, norm = 0;
        for (var j = 0; j < w.Length; j++)
        {
            var d = (double)w[j] - approx[j];
            diff += d * d;
            norm += (double)w[j] * w[j];
        }

        return norm > 0 ? Math.Sqrt(diff / norm) : 0;
    }
}

/// <summary>What a method is asked to meet: a rank policy applied to its own spectra (explicit methods), or, for auto, a
/// maximum relative weight error; <see cref="Policy"/> is then the energy policy equivalent to it.</summary>
internal sealed record ConvTarget(RankPolicy Policy, double? MaxError)
{
    public static ConvTarget ForError(double maxError) =>
        new(RankPolicy.Energy(Math.Clamp(1 - maxError * maxError, 1e-12, 1.0)), maxError);
}

/// <summary>A planned, priced factorization of one conv; <see cref="Emit"/> rewrites the graph.</summary>
internal sealed record ConvCandidate(string Method, int Rank, int[] Ranks, int BreakEvenRank, long ParamsAfter, long FlopsAfter,
    double RelativeError, double[] SingularValues, string Reason, Func<ConvSubject, Node> Emit);

/// <summary>The conv being factorized: node, constant weight and its values, bias, geometry, and emission helpers.</summary>
internal sealed class ConvSubject
{
    public ConvSubject(Node node, PassContext context, Value weight, float[] values, ConvGeometry geometry)
    {
        Node = node;
        Context = context;
        Weight = weight;
        Values = values;
        Geometry = geometry;
        Label = PassContext.Label(node);
        DataType = PassContext.ConstantTensor(weight)!.DataType;
        Bias = node.Inputs.Count > 2 ? node.Inputs[2] : null;
        foreach (var v in values)
        {
            NormSquared += (double)v * v;
        }
    }

    public Node Node { get; }

    public PassContext Context { get; }

    public Value Weight { get; }

    public float[] Values { get; }

    public ConvGeometry Geometry { get; }

    public string Label { get; }

    public int DataType { get; }

    public Value? Bias { get; }

    public double NormSquared { get; }

    public long ParamsBefore => Values.Length;

    /// <summary>2 · C_out · C_in/g · Πk · output positions (bias adds are not counted, on either side).</summary>
    public long FlopsBefore => 2L * Geometry.OutChannels * Geometry.InPerGroup * Geometry.KernelSize * Geometry.OutputPositions;

    /// <summary>A new initializer in the node's graph, in the weight's own element type.</summary>
    public Value Initializer(string suffix, long[] dims, float[] data) =>
        Node.Graph.AddInitializer(TensorData.Create(Weight.Name + suffix, dims, data, DataType));

    /// <summary>A new Conv node reading <paramref name="input"/>.</summary>
    public Node Conv(Value input, Value weight, Value? bias, string suffix, IEnumerable<AttributeProto> attributes)
    {
        Value?[] inputs = bias is null ? [input, weight] : [input, weight, bias];
        return Node.Graph.AddNode("Conv", inputs, [Node.Outputs[0].Name + suffix], Label + suffix, attributes);
    }

    /// <summary>Kernel dims of a conv with the given channels that is 1 on every spatial axis not in <paramref name="keep"/>.</summary>
    public long[] Dims(long outChannels, long inChannels, bool[] keep) =>
        [outChannels, inChannels, .. Geometry.Kernel.Select((k, a) => keep[a] ? k : 1L)];
}
