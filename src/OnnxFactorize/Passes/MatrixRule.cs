using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>What the Gemm and MatMul rules share: one method (svd), always enabled, held to the node's policy.</summary>
public abstract class MatrixRule : IFactorizationRule
{
    private protected MatrixRule()
    {
    }

    /// <inheritdoc/>
    public abstract string OpType { get; }

    /// <inheritdoc/>
    public string Method => "svd";

    /// <inheritdoc/>
    public bool AlwaysEnabled => true;

    /// <inheritdoc/>
    public abstract RuleMatch Match(Node node, PassContext context);

    /// <inheritdoc/>
    public string? Unsupported(FactorizationCandidate candidate) => null;

    /// <inheritdoc/>
    public RankTarget Target(FactorizationCandidate candidate, RankPolicy policy, bool auto) => RankTarget.Of(policy);

    /// <inheritdoc/>
    public abstract FactorizationPlan? Plan(FactorizationCandidate candidate, RankTarget target, out string reason);

    private protected static RuleMatch Skip(Node node, string reason, IReadOnlyList<long>? shape = null) =>
        RuleMatch.Skipped(PassContext.Skipped(node, "svd", reason, shape));

    /// <summary>A skip that still counts the node's FLOPs (the weight was read and priced).</summary>
    private protected static RuleMatch SkipPriced(Node node, string reason, IReadOnlyList<long> shape, long flops) =>
        RuleMatch.Skipped(PassContext.Skipped(node, "svd", reason, shape) with { FlopsBefore = flops, FlopsAfter = flops });
}
