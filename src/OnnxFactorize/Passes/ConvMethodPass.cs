using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Passes;

/// <summary>A Conv factorization method (one rule of the four serving Conv): the shared match (constant kernel, Conv1d or
/// Conv2d, group 1), the method's own applicability, and its plan, priced without touching the graph. With auto, every
/// applicable method is held to the same weight error and <see cref="Factorizer"/> emits the one with the fewest FLOPs.</summary>
public abstract class ConvMethodPass : IFactorizationRule, IPricedRule
{
    private protected ConvMethodPass()
    {
    }

    /// <inheritdoc/>
    public string OpType => "Conv";

    /// <summary>Method name as in <see cref="FactorizeOptions.Methods"/>.</summary>
    public abstract string Method { get; }

    /// <inheritdoc/>
    public bool AlwaysEnabled => false;

    /// <summary>When false, the rank the policy asks for is used even if the chain is not smaller than the conv (exact
    /// re-parameterizations and tests); FLOP and parameter counts are still reported.</summary>
    public bool RequireSavings { get; init; } = true;

    /// <inheritdoc/>
    public RuleMatch Match(Node node, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(context);
        RuleMatch Skip(string reason, IReadOnlyList<long>? shape = null) => RuleMatch.Skipped(PassContext.Skipped(node, Method, reason, shape));

        if (node.Inputs.Count < 2 || node.Inputs[0] is null || node.Inputs[1] is null)
        {
            return Skip("Conv needs inputs X and W");
        }

        if (PassContext.ConstantTensor(node.Inputs[1]!) is null)
        {
            return Skip(PassContext.UnfollowedConstant(node.Inputs[1]!) ?? $"weight '{node.Inputs[1]!.Name}' is computed at run time, not a constant");
        }

        var shape = PassContext.ShapeOf(node.Inputs[1]!)!;
        var geometry = ConvGeometry.Parse(node, shape, out var reason);
        if (geometry is null)
        {
            return Skip(reason, shape);
        }

        if (geometry.SpatialRank > 2)
        {
            return Skip($"Conv{geometry.SpatialRank}d is not factorized (Conv1d and Conv2d are)", shape);
        }

        if (geometry.Group > 1)
        {
            return Skip(geometry.InPerGroup == 1
                ? $"depthwise conv (group = C_in = {geometry.Group}): each filter sees one channel, nothing to factorize"
                : $"grouped conv (group = {geometry.Group}) is not factorized; only group = 1", shape);
        }

        var readError = context.TryReadWeight(node, 1, out var weight, out var values);
        return readError is not null ? Skip(readError, shape) : RuleMatch.Of(new ConvSubject(node, context, weight!, values, geometry, shape));
    }

    /// <inheritdoc/>
    public string? Unsupported(FactorizationCandidate candidate) => Unsupported(((ConvSubject)candidate).Geometry);

    /// <inheritdoc/>
    public RankTarget Target(FactorizationCandidate candidate, RankPolicy policy, bool auto)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return auto ? AutoTarget((ConvSubject)candidate, policy) : RankTarget.Of(policy);
    }

    /// <inheritdoc/>
    public FactorizationPlan? Plan(FactorizationCandidate candidate, RankTarget target, out string reason)
    {
        var subject = (ConvSubject)candidate;
        var planned = Plan(subject, target, RequireSavings, out reason);
        if (planned is null)
        {
            return null;
        }

        if (RequireSavings && (planned.ParamsAfter >= subject.ParamsBefore || planned.FlopsAfter >= subject.FlopsBefore))
        {
            reason = $"{planned.Method}: rank {planned.Rank} gives {planned.ParamsAfter} parameters / {planned.FlopsAfter} FLOPs, " +
                $"not below {subject.ParamsBefore} / {subject.FlopsBefore} (break-even rank {planned.BreakEvenRank})";
            return null;
        }

        var decision = new FactorizationDecision
        {
            NodeName = subject.Label,
            OpType = "Conv",
            GraphPath = subject.Node.Graph.Path,
            Method = planned.Method,
            Status = DecisionStatus.Factorized,
            Reason = planned.Reason,
            WeightShape = subject.WeightShape,
            Rank = planned.Rank,
            Ranks = planned.Ranks,
            BreakEvenRank = planned.BreakEvenRank,
            ParamsBefore = subject.ParamsBefore,
            ParamsAfter = planned.ParamsAfter,
            FlopsBefore = subject.FlopsBefore,
            FlopsAfter = planned.FlopsAfter,
            WeightRelError = planned.RelativeError,
            SingularValues = planned.SingularValues,
            Mode = planned.Mode,
            OutputRelError = planned.OutputRelError,
        };
        return new FactorizationPlan(subject, decision, () => planned.Emit(subject), planned.Reconstruct);
    }

    /// <inheritdoc/>
    (long Flops, long Params)? IPricedRule.Price(FactorizationCandidate candidate, RankTarget target) =>
        Price((ConvSubject)candidate, target, RequireSavings);

    /// <summary>The FLOPs and parameters <see cref="Plan(ConvSubject, RankTarget, bool, out string)"/> would report, found
    /// without the decomposition; null when the method cannot tell that cheaply (the default).</summary>
    internal virtual (long Flops, long Params)? Price(ConvSubject subject, RankTarget target, bool requireSavings) => null;

    /// <summary>Why this method cannot handle the geometry, or null when it can.</summary>
    internal abstract string? Unsupported(ConvGeometry geometry);

    /// <summary>Decomposes the kernel and prices the chain without touching the graph; null with a reason when no rank fits.</summary>
    internal abstract ConvCandidate? Plan(ConvSubject subject, RankTarget target, bool requireSavings, out string reason);

    /// <summary>Applies a rank policy to a spectrum, with rounding and break-even, for the matrix-shaped methods.</summary>
    private protected static RankChoice Choose(ConvSubject subject, RankTarget target, ReadOnlySpan<double> spectrum, double frob2, int rows, int cols)
    {
        var choice = RankSelection.Choose(target.Policy, spectrum, frob2, rows, cols, subject.Context.Options.RankMultiple);
        return choice with { Rank = Math.Clamp(choice.Rank, 1, Math.Min(rows, cols)) };
    }

    // The weight error "equivalent to the policy": √(1 − e) for energy e; otherwise the error the policy gives the kernel
    // viewed as a C_out×(C_in·Πk) matrix, so every method is held to the same accuracy and only cost decides.
    private static RankTarget AutoTarget(ConvSubject subject, RankPolicy policy)
    {
        if (policy.EnergyFraction is { } energy)
        {
            return RankTarget.ForError(Math.Sqrt(Math.Max(0, 1 - energy)));
        }

        // Data-aware: the same policy on the output-space (whitened) spectrum gives the output error every method is held to.
        if (ConvDataAwareRules.StatisticsOf(subject) is { } statistics)
        {
            return RankTarget.ForError(ConvDataAwareRules.AutoOutputError(subject, statistics, policy));
        }

        var g = subject.Geometry;
        int rows = g.OutChannels, cols = g.InPerGroup * g.KernelSize;
        var needed = Math.Clamp(policy.RequiredSingularValues(rows, cols), 1, Math.Min(rows, cols));
        var svd = subject.Context.Svd(subject.Weight, subject.Values, rows, cols, transposed: false, needed);
        var rank = Math.Clamp(policy.SelectRank(svd.S, svd.FrobeniusNormSquared, rows, cols), 1, svd.Rank);
        return RankTarget.ForError(svd.RelativeError(rank));
    }
}

/// <summary>A planned, priced factorization of one conv; <see cref="Emit"/> rewrites the graph, <see cref="Reconstruct"/>
/// gives the dense kernel the chain computes.</summary>
internal sealed record ConvCandidate(string Method, int Rank, int[] Ranks, int BreakEvenRank, long ParamsAfter, long FlopsAfter,
    double RelativeError, double[] SingularValues, string Reason, Func<float[]> Reconstruct, Func<ConvSubject, Node> Emit,
    string Mode = "plain", double? OutputRelError = null);

/// <summary>The conv being factorized: node, constant kernel and its values, bias, geometry, and emission helpers.</summary>
internal sealed class ConvSubject : FactorizationCandidate
{
    internal ConvSubject(Node node, PassContext context, Value weight, float[] values, ConvGeometry geometry, IReadOnlyList<long> shape)
        : base(node, context, weight, 1, values, shape)
    {
        Geometry = geometry;
        DataType = PassContext.ConstantTensor(weight)!.DataType;
        Bias = node.Inputs.Count > 2 ? node.Inputs[2] : null;
        foreach (var v in values)
        {
            NormSquared += (double)v * v;
        }
    }

    public ConvGeometry Geometry { get; }

    public int DataType { get; }

    public Value? Bias { get; }

    public double NormSquared { get; }

    /// <summary>The Tucker-2 mode spectra once computed (pricing and planning share them).</summary>
    public (double[] Out, double[] In)? TuckerSpectra { get; set; }

    /// <summary>Eigenvalues (σ²) of the spatial-svd reshaped kernel's smaller Gram matrix once computed, descending.</summary>
    public double[]? SpatialSpectrum { get; set; }

    /// <summary>2 · C_out · C_in/g · Πk · output positions (bias adds are not counted, on either side).</summary>
    public override long FlopsBefore => FlopModel.Conv(Geometry.OutChannels, (long)Geometry.InPerGroup * Geometry.KernelSize, Geometry.OutputPositions);

    internal override string ReasonSuffix => Geometry.HasStaticShapes ? "" : " FLOPs are per output position (spatial size unknown).";

    /// <summary>A new initializer in the node's graph, in the weight's own element type.</summary>
    public Value Initializer(string suffix, long[] dims, float[] data) =>
        Node.Graph.AddInitializer(TensorCodec.Create(Weight.Name + suffix, dims, data, DataType));

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
