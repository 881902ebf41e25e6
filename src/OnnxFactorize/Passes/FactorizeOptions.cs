using System.Text.RegularExpressions;
using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

/// <summary>What to factorize and how: the one options type every front end (CLI, MSBuild, library) passes to
/// <see cref="Factorizer"/>. Immutable; <see cref="Validate"/> checks it once, with messages that name the bad value.</summary>
public sealed record FactorizeOptions
{
    /// <summary>Operator types that may be factorized.</summary>
    public static readonly IReadOnlyList<string> AllOps = ["Gemm", "MatMul", "Conv"];

    /// <summary>Method names accepted by <see cref="Methods"/>.</summary>
    public static readonly IReadOnlyList<string> AllMethods = ["auto", "svd", "tucker2", "spatial-svd", "depthwise"];

    /// <summary>Per-node rank policy; default keeps 99 % of each weight's energy.</summary>
    public RankPolicy RankPolicy { get; init; } = RankPolicy.Energy(0.99);

    /// <summary>Round chosen ranks up to a multiple of this (kernel efficiency), never above the break-even rank.</summary>
    public int RankMultiple { get; init; } = 1;

    /// <summary>Operator types to consider (subset of <see cref="AllOps"/>).</summary>
    public IReadOnlyList<string> Ops { get; init; } = AllOps;

    /// <summary>Methods allowed for Conv nodes ("auto" lets each node choose); Gemm/MatMul always use svd.</summary>
    public IReadOnlyList<string> Methods { get; init; } = ["auto"];

    /// <summary>How Tucker-2 picks its two ranks when it is the chosen method (not under auto, which picks the cheapest
    /// ranks meeting the error target).</summary>
    public TuckerRankEstimate TuckerRanks { get; init; } = TuckerRankEstimate.Policy;

    /// <summary>Only nodes whose name matches are considered.</summary>
    public Regex? Only { get; init; }

    /// <summary>Nodes whose name matches are left alone.</summary>
    public Regex? Exclude { get; init; }

    /// <summary>Also factorize initializers that are listed as graph inputs (callers could override them at run time).</summary>
    public bool AllowOverridableWeights { get; init; }

    /// <summary>Per-node rank policies keyed by <see cref="PassContext.Label"/>; a listed node uses its own policy instead of
    /// <see cref="RankPolicy"/> (e.g. <c>RankPolicy.Fixed(16)</c> to pin its rank). Budget planning fills this.</summary>
    public IReadOnlyDictionary<string, RankPolicy> NodePolicies { get; init; } = new Dictionary<string, RankPolicy>();

    /// <summary>Settings of the SVD engine (seed, oversampling, power iterations).</summary>
    public SvdOptions Svd { get; init; } = new();

    /// <summary>Data-aware factorization: <see cref="DataAwareMode.Whiten"/> fits Gemm/MatMul/Conv to the input
    /// statistics given to the factorizer (collected by <c>Optimizer.Run</c>, or <c>Optimizer.Analyze</c> with calibration
    /// inputs). The budget planner collects none, so it plans weight-space.</summary>
    public DataAwareMode DataAware { get; init; } = DataAwareMode.None;

    /// <summary>Threads for decomposition (-1 = the cores, the default): that many nodes are decomposed at once, each on
    /// n ÷ nodes threads (all n when there is a single node). The output does not depend on it, byte for byte.</summary>
    public int MaxParallelNodes { get; init; } = -1;

    /// <summary>Checks every value; throws <see cref="OnnxFactorizeException"/> naming the first bad one.</summary>
    public FactorizeOptions Validate()
    {
        if (RankPolicy is null)
        {
            throw new OnnxFactorizeException("a rank policy is required (energy, rank, rank-ratio or compression).");
        }

        foreach (var (node, policy) in NodePolicies)
        {
            if (string.IsNullOrEmpty(node) || policy is null)
            {
                throw new OnnxFactorizeException($"node rank override '{node}' needs a node name and a rank policy.");
            }
        }

        if (MaxParallelNodes is 0 or < -1)
        {
            throw new OnnxFactorizeException($"threads (--threads, MaxParallelNodes) must be at least 1, or -1 for all cores; got {MaxParallelNodes}.");
        }

        if (RankMultiple < 1)
        {
            throw new OnnxFactorizeException($"rank-multiple must be at least 1, got {RankMultiple}.");
        }

        if (Ops.Count == 0)
        {
            throw new OnnxFactorizeException("op list is empty; give one or more of Gemm, MatMul, Conv.");
        }

        foreach (var op in Ops)
        {
            if (!AllOps.Contains(op, StringComparer.Ordinal))
            {
                throw new OnnxFactorizeException($"op '{op}' is not supported; use Gemm, MatMul or Conv (case-sensitive).");
            }
        }

        if (Methods.Count == 0)
        {
            throw new OnnxFactorizeException("method list is empty; give auto or one or more of svd, tucker2, spatial-svd, depthwise.");
        }

        if (!Enum.IsDefined(DataAware))
        {
            throw new OnnxFactorizeException($"data-aware mode {(int)DataAware} is unknown; use none, whiten or sequential.");
        }

        foreach (var method in Methods)
        {
            if (!AllMethods.Contains(method, StringComparer.Ordinal))
            {
                throw new OnnxFactorizeException($"method '{method}' is unknown; use auto, svd, tucker2, spatial-svd or depthwise.");
            }
        }

        return this;
    }

    /// <summary>Pins the rank of each named node (name=rank), validated: every rank must be at least 1.</summary>
    public FactorizeOptions WithNodeRanks(IEnumerable<KeyValuePair<string, int>> ranks)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        var policies = new Dictionary<string, RankPolicy>(NodePolicies, StringComparer.Ordinal);
        foreach (var (node, rank) in ranks)
        {
            policies[node] = rank >= 1 ? RankPolicy.Fixed(rank) : throw new OnnxFactorizeException($"rank of node '{node}' must be at least 1, got {rank}.");
        }

        return this with { NodePolicies = policies };
    }

    /// <summary>The policy for the node labelled <paramref name="label"/>: its override, else <see cref="RankPolicy"/>.</summary>
    public RankPolicy PolicyFor(string label) => NodePolicies.TryGetValue(label, out var policy) ? policy : RankPolicy;

    /// <summary>True when <paramref name="op"/> is enabled.</summary>
    public bool IncludesOp(string op) => Ops.Contains(op, StringComparer.Ordinal);

    /// <summary>True when the node name passes the only/exclude filters.</summary>
    public bool IncludesName(string name) => (Only is null || Only.IsMatch(name)) && (Exclude is null || !Exclude.IsMatch(name));
}

/// <summary>Rank estimate for the two modes of a Tucker-2 decomposition.</summary>
public enum TuckerRankEstimate
{
    /// <summary>The rank policy applied to each unfolding's spectrum.</summary>
    Policy,

    /// <summary>Empirical variational Bayesian matrix factorization on each unfolding (Nakajima et al. 2013), as Kim et al. 2015 use.</summary>
    Vbmf,
}
