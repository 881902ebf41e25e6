using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>Matches MatMul with a constant 2-D weight as the right operand (X·W, X of any rank ≥ 1, broadcast batch dims)
/// or the left operand (W·X); emits two thinner MatMuls through the truncated SVD W ≈ A·B, A = U_k Σ_k^½, B = Σ_k^½ V_kᵀ
/// (the best rank-k choice, Eckart–Young). The output keeps its name, so everything downstream is untouched.</summary>
public sealed class MatMulSvdRule : MatrixRule
{
    /// <inheritdoc/>
    public override string OpType => "MatMul";

    /// <inheritdoc/>
    public override RuleMatch Match(Node node, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(context);
        if (node.Inputs.Count != 2 || node.Inputs[0] is null || node.Inputs[1] is null)
        {
            return Skip(node, "MatMul needs exactly two inputs");
        }

        var leftConst = PassContext.ConstantTensor(node.Inputs[0]!) is not null;
        var rightConst = PassContext.ConstantTensor(node.Inputs[1]!) is not null;
        if (leftConst && rightConst)
        {
            return Skip(node, "both operands are constant (a constant-folding candidate, not a factorization one)");
        }

        if (!leftConst && !rightConst)
        {
            return Skip(node, PassContext.UnfollowedConstant(node.Inputs[1]!) ?? PassContext.UnfollowedConstant(node.Inputs[0]!) ?? "neither operand is a constant weight");
        }

        var weightIndex = rightConst ? 1 : 0;
        var weightShape = PassContext.ShapeOf(node.Inputs[weightIndex]!)!;
        if (weightShape.Count != 2)
        {
            return Skip(node, $"the constant operand has rank {weightShape.Count}; only 2-D weights are factorized", weightShape);
        }

        var rows = (int)weightShape[0];
        var cols = (int)weightShape[1];
        var readError = context.TryReadWeight(node, weightIndex, out var weight, out var values);
        if (readError is not null)
        {
            return Skip(node, readError, weightShape);
        }

        // FLOPs: X·W with X [..., K] costs 2·(rows of X)·K·N; W·X with X [..., K, N] costs 2·M·K·(batch·N).
        var activationShape = PassContext.ShapeOf(node.Inputs[1 - weightIndex]!);
        var otherCount = weightIndex == 1 ? PassContext.StaticCount(activationShape, skipLast: 1) : PassContext.StaticCount(activationShape) / Math.Max(cols, 1);
        return RuleMatch.Of(new MatrixCandidate(node, context, weight!, weightIndex, values, weightShape, rows, cols, transposed: false, otherCount));
    }

    /// <inheritdoc/>
    public override FactorizationPlan? Plan(FactorizationCandidate candidate, RankTarget target, out string reason)
    {
        ArgumentNullException.ThrowIfNull(target);
        var c = (MatrixCandidate)candidate;
        var statistics = c.Context.InputStatisticsOf(c.Node);
        if (statistics is not null && DataAwareRules.Unusable(c, statistics) is null)
        {
            return DataAwareRules.MatMul(c, statistics, target, out reason);
        }

        var plan = c.PlanSvd(target.Policy, out reason);
        if (plan is null)
        {
            return null;
        }

        reason += c.DataAwareFallback(statistics);

        var k = plan.Choice.Rank;
        return new FactorizationPlan(c, plan.Decision(c, reason), Emit, () => c.Reconstruct(plan.Svd, k));

        Node Emit()
        {
            var node = c.Node;
            var (a, b) = c.Context.Factors(c.Weight, plan.Svd, transposed: false, k);
            var graph = node.Graph;
            var output = node.Outputs[0];
            if (c.WeightIndex == 1)
            {
                // Y = (X·A)·B
                var first = graph.AddNode("MatMul", [node.Inputs[0], a], [output.Name + "_svd"], c.Label + "_svd_a");
                return graph.AddNode("MatMul", [first.Outputs[0], b], [output.Name + "_svd_out"], c.Label + "_svd_b");
            }

            // Y = A·(B·X)
            var right = graph.AddNode("MatMul", [b, node.Inputs[1]], [output.Name + "_svd"], c.Label + "_svd_b");
            return graph.AddNode("MatMul", [a, right.Outputs[0]], [output.Name + "_svd_out"], c.Label + "_svd_a");
        }
    }
}
