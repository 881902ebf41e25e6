using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Passes;

/// <summary>What passes share while running over one model: the graph, the options, and caches so a weight read by
/// several nodes is decoded and decomposed once (and its factors shared).</summary>
public sealed class PassContext
{
    private readonly Dictionary<(TensorProto Tensor, bool Transposed), SvdResult> _svds = new();
    private readonly Dictionary<(TensorProto Tensor, bool Transposed, int Rank, float Scale), (Value Left, Value Right)> _factors = new();
    private readonly Dictionary<GramAccumulator, InputWhitening> _whitenings = new(ReferenceEqualityComparer.Instance);

    // Nodes are decided in parallel (Factorizer.DecideAll): the decomposition caches are shared between workers.
    private readonly Lock _cacheLock = new();

    /// <summary>Creates a context over <paramref name="model"/>; <paramref name="svdCache"/> shares decompositions across runs.</summary>
    public PassContext(ModelGraph model, FactorizeOptions options, CancellationToken cancellationToken = default, SvdCache? svdCache = null)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Options = options ?? throw new ArgumentNullException(nameof(options));
        CancellationToken = cancellationToken;
        SvdCache = svdCache;
    }

    /// <summary>Decompositions shared with other runs (budget planning, incremental builds), or null.</summary>
    public SvdCache? SvdCache { get; }

    /// <summary>Data-aware factorization: statistics (Gram, mean, count) of what each main-graph node's weight reads on the
    /// calibration data, keyed by the node's first output name (unique in a graph); with
    /// <see cref="FactorizeOptions.DataAware"/> on, the svd rules fit the nodes listed here to their data. Empty by default.</summary>
    internal IReadOnlyDictionary<string, GramAccumulator> InputStatistics { get; init; } = new Dictionary<string, GramAccumulator>();

    /// <summary>Data-aware plans whiten on the centered Gram and fold the bias correction (W − Ŵ)·μ into the bias (true, the
    /// default), or whiten on the uncentered Gram with no bias change (false): then Ŵ alone is the exact minimizer of
    /// ‖(W − Ŵ)X‖ and <see cref="FactorizationPlan.Reconstruct"/> is the whole rewrite, which is what the budget planner measures.</summary>
    internal bool CorrectBias { get; init; } = true;

    /// <summary>Sequential data-aware factorization: per input statistics object of <see cref="InputStatistics"/> (by
    /// reference), the paired statistics of the original model the node's last factor is refitted to. Empty by default.</summary>
    internal IReadOnlyDictionary<GramAccumulator, ReconstructionTargets> Targets { get; init; } = new Dictionary<GramAccumulator, ReconstructionTargets>();

    /// <summary>The reconstruction targets paired with <paramref name="inputs"/> in sequential mode; else null.</summary>
    internal ReconstructionTargets? TargetsOf(GramAccumulator inputs) =>
        Options.DataAware == DataAwareMode.Sequential && Targets.TryGetValue(inputs, out var targets) ? targets : null;

    /// <summary>The input statistics of <paramref name="node"/> when data-aware factorization is on and they were collected; else null.</summary>
    internal GramAccumulator? InputStatisticsOf(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return Options.DataAware != DataAwareMode.None && node.Graph.Path.Length == 0 && node.Outputs.Count > 0
            && InputStatistics.TryGetValue(node.Outputs[0].Name, out var statistics) ? statistics : null;
    }

    /// <summary>The rank policy for <paramref name="node"/>: its per-node override from <see cref="FactorizeOptions.NodePolicies"/>, else the global one.</summary>
    public RankPolicy PolicyFor(Node node) => Options.PolicyFor(Label(node));

    /// <summary>The model being rewritten.</summary>
    public ModelGraph Model { get; }

    /// <summary>The validated options.</summary>
    public FactorizeOptions Options { get; }

    /// <summary>Cancels long decompositions.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The whitening of the centered (uncentered without <see cref="CorrectBias"/>) Gram of <paramref name="inputs"/>, computed once per statistics object (nodes
    /// reading one activation share it).</summary>
    internal InputWhitening WhiteningOf(GramAccumulator inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        // Computed under the lock: nodes reading one activation wait for its single whitening instead of repeating it.
        lock (_cacheLock)
        {
            if (!_whitenings.TryGetValue(inputs, out var whitening))
            {
                var options = new WhiteningOptions { MaxDegreeOfParallelism = Options.Svd.MaxDegreeOfParallelism };
                whitening = InputWhitening.FromGram(CorrectBias ? inputs.CenteredGram() : inputs.Gram(), inputs.Dimension, options, CancellationToken);
                _whitenings[inputs] = whitening;
            }

            return whitening;
        }
    }

    /// <summary>A stable label for messages and reports: the node's name, or op#index within its graph path.</summary>
    public static string Label(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (!string.IsNullOrEmpty(node.Name))
        {
            return node.Name;
        }

        var index = node.Graph.Nodes.ToList().IndexOf(node);
        var path = node.Graph.Path.Length == 0 ? "" : node.Graph.Path + "/";
        return $"{path}{node.OpType}#{index}";
    }

    /// <summary>A skip decision for <paramref name="node"/>: the graph is left as it was; parameters before and after are
    /// the weight's element count when its shape is known.</summary>
    public static FactorizationDecision Skipped(Node node, string method, string reason, IReadOnlyList<long>? weightShape = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        var parameters = weightShape is { Count: > 0 } ? weightShape.Aggregate(1L, (a, d) => a * Math.Max(d, 0)) : 0;
        return new FactorizationDecision
        {
            NodeName = Label(node),
            OpType = node.OpType,
            GraphPath = node.Graph.Path,
            Method = method,
            Status = DecisionStatus.Skipped,
            Reason = reason,
            WeightShape = weightShape ?? [],
            ParamsBefore = parameters,
            ParamsAfter = parameters,
        };
    }

    /// <summary>Checks that input <paramref name="index"/> of <paramref name="node"/> is a constant float weight with finite
    /// values; returns null and the values, or the reason it cannot be factorized.</summary>
    public string? TryReadWeight(Node node, int index, out Value? weight, out float[] values)
    {
        ArgumentNullException.ThrowIfNull(node);
        values = [];
        weight = index < node.Inputs.Count ? node.Inputs[index] : null;
        if (weight is null)
        {
            return "the weight input is missing";
        }

        var tensor = ConstantChains.Resolve(weight, out var unfollowed);
        if (tensor is null)
        {
            return unfollowed ?? $"weight '{weight.Name}' is computed at run time, not a constant";
        }

        if (ConstantSource(weight) is { IsOverridableInitializer: true } overridable && !Options.AllowOverridableWeights)
        {
            return $"weight '{overridable.Name}' is also a graph input, so callers can override it (allow with --allow-overridable-weights)";
        }

        if (!ElementType.IsFactorizable(tensor.DataType))
        {
            return $"weight '{weight.Name}' has element type {ElementType.Name(tensor.DataType)}; only FLOAT, FLOAT16, BFLOAT16 and DOUBLE are factorized";
        }

        if (tensor.Dims.Contains(0))
        {
            return $"weight '{weight.Name}' is empty (dims [{string.Join(',', tensor.Dims)}]): there is nothing to factorize";
        }

        values = Model.ReadFloats(tensor);
        if (!TensorCodec.AllFinite(values))
        {
            values = [];
            return $"weight '{weight.Name}' holds NaN or infinite values";
        }

        // Decompositions form products of the weight with itself in float32 (Gram matrices, power iterations), whose
        // entries are bounded by ‖W‖²; past float's range they overflow to infinity and the factors would be garbage.
        var normSquared = 0.0;
        foreach (var v in values)
        {
            normSquared += (double)v * v;
        }

        if (normSquared > float.MaxValue)
        {
            values = [];
            return string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"weight '{weight.Name}' is too large to decompose in float32 (‖W‖² = {normSquared:G3} exceeds {float.MaxValue:G3})");
        }

        return null;
    }

    /// <summary>The tensor behind a constant value: its initializer, the <c>value</c> tensor of the Constant node producing
    /// it (exporters such as Paddle's emit weights that way), or either of those behind a chain of Identity nodes (torch.onnx
    /// puts weights there) and of Cast between float types, Transpose, Reshape, Squeeze and Unsqueeze (fp16 exports, tf2onnx,
    /// paddle2onnx), folded to the tensor the consumer reads. Null for anything computed.</summary>
    public static TensorProto? ConstantTensor(Value value) => ConstantChains.Resolve(value, out _);

    /// <summary>Why the chain of ops behind <paramref name="value"/> leads to a constant that is not followed (a Cast from or
    /// to an integer type, a Reshape to a computed shape, …); null when the value is a constant or is computed at run time.</summary>
    public static string? UnfollowedConstant(Value value) => ConstantChains.Resolve(value, out var problem) is null ? problem : null;

    /// <summary>The value that actually holds a constant: <paramref name="value"/> itself, or the initializer or Constant
    /// output at the root of the chain of Identity, Cast, Transpose, Reshape, Squeeze and Unsqueeze nodes leading to it;
    /// null for anything computed.</summary>
    public static Value? ConstantSource(Value value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return ConstantChains.Root(value);
    }

    /// <summary>Static dims of a value, from its declared shape or its constant tensor; null when unknown.</summary>
    public static IReadOnlyList<long>? ShapeOf(Value value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return ConstantTensor(value)?.Dims ?? value.Shape;
    }

    /// <summary>The SVD of a weight viewed as a rows×cols matrix (transposed when asked), computed to at least
    /// <paramref name="rank"/> triplets and cached per tensor and orientation.</summary>
    internal SvdResult Svd(Value weight, float[] values, int rows, int cols, bool transposed, int rank)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(values);
        var key = (ConstantTensor(weight)!, transposed);
        lock (_cacheLock)
        {
            if (_svds.TryGetValue(key, out var cached) && (cached.Rank >= rank || cached.Rank == Math.Min(rows, cols)))
            {
                return cached;
            }
        }

        var matrix = values;
        if (transposed)
        {
            matrix = new float[values.Length];
            MatrixOps.Transpose(values, cols, rows, matrix);
        }

        var needed = Math.Min(rank, Math.Min(rows, cols));
        var result = SvdCache is { } shared
            ? shared.GetOrCompute(matrix, rows, cols, needed, Options.Svd, CancellationToken)
            : TruncatedSvd.Compute(matrix, rows, cols, needed, Options.Svd, CancellationToken);
        lock (_cacheLock)
        {
            // Two workers may have computed the same weight at once; the deeper result is kept (both are deterministic).
            if (!_svds.TryGetValue(key, out var other) || other.Rank < result.Rank)
            {
                _svds[key] = result;
            }
        }

        return result;
    }

    /// <summary>Initializers holding the balanced factors of a weight at rank k, scaled by <paramref name="scale"/> on the
    /// left factor, in the weight's own element type; created once and shared by every node using the same weight.</summary>
    internal (Value Left, Value Right) Factors(Value weight, SvdResult svd, bool transposed, int rank, float scale = 1f)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(svd);
        var tensor = ConstantTensor(weight)!;
        var key = (tensor, transposed, rank, scale);
        lock (_cacheLock)
        {
            return _factors.TryGetValue(key, out var existing) ? existing : CreateFactors(weight, svd, transposed, rank, scale, key);
        }
    }

    private (Value Left, Value Right) CreateFactors(Value weight, SvdResult svd, bool transposed, int rank, float scale,
        (TensorProto Tensor, bool Transposed, int Rank, float Scale) key)
    {
        var tensor = key.Tensor;
        if (_factors.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var (left, right) = svd.BalancedFactors(rank);
        if (scale != 1f)
        {
            for (var i = 0; i < left.Length; i++)
            {
                left[i] *= scale;
            }
        }

        var type = tensor.DataType;
        var graph = weight.Graph;
        var leftValue = graph.AddInitializer(TensorCodec.Create(weight.Name + "_svd_a", [svd.Rows, rank], left, type));
        var rightValue = graph.AddInitializer(TensorCodec.Create(weight.Name + "_svd_b", [rank, svd.Cols], right, type));
        _factors[key] = (leftValue, rightValue);
        return (leftValue, rightValue);
    }

    /// <summary>Product of static dims, with unknown or symbolic dims counted as 1 (FLOPs are then per unit of those dims).</summary>
    public static long StaticCount(IReadOnlyList<long>? shape, int skipLast = 0)
    {
        if (shape is null)
        {
            return 1;
        }

        long count = 1;
        for (var i = 0; i < shape.Count - skipLast; i++)
        {
            count *= shape[i] > 0 ? shape[i] : 1;
        }

        return count;
    }
}
