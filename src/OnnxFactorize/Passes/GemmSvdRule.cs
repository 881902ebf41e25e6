using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>Matches Gemm (Y = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A, B' = transB ? Bᵀ : B) whose B is a constant
/// weight; emits MatMul (or Gemm with transA) A'·P then Gemm ·Q + beta·C, where B' ≈ P·Q by truncated SVD and alpha is
/// folded into P. The bias C (any broadcastable shape, or none) and beta keep their exact meaning.</summary>
public sealed class GemmSvdRule : MatrixRule
{
    /// <inheritdoc/>
    public override string OpType => "Gemm";

    /// <inheritdoc/>
    public override RuleMatch Match(Node node, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(context);
        var opset = context.Model.OpsetVersion();
        if (opset is > 0 and < 7)
        {
            return Skip(node, $"Gemm of opset {opset} (with the old broadcast attribute) is not supported; opset 7 or later is");
        }

        if (node.Inputs.Count < 2 || node.Inputs[0] is null || node.Inputs[1] is null)
        {
            return Skip(node, "Gemm needs inputs A and B");
        }

        if (PassContext.ConstantTensor(node.Inputs[1]!) is null)
        {
            return Skip(node, PassContext.ConstantTensor(node.Inputs[0]!) is null
                ? PassContext.UnfollowedConstant(node.Inputs[1]!) ?? "neither A nor B is a constant weight"
                : "only B may be the constant weight; A is constant here (not supported)");
        }

        var transA = node.GetInt("transA", 0) != 0;
        var transB = node.GetInt("transB", 0) != 0;
        var alpha = node.GetFloat("alpha", 1f);
        var beta = node.GetFloat("beta", 1f);
        var stored = PassContext.ShapeOf(node.Inputs[1]!)!;
        if (stored.Count != 2)
        {
            return Skip(node, $"B has rank {stored.Count}; Gemm needs a 2-D B", stored);
        }

        var k = (int)(transB ? stored[1] : stored[0]);
        var n = (int)(transB ? stored[0] : stored[1]);
        var readError = context.TryReadWeight(node, 1, out var weight, out var values);
        if (readError is not null)
        {
            return Skip(node, readError, stored);
        }

        if (!float.IsFinite(alpha) || !float.IsFinite(beta))
        {
            return Skip(node, $"alpha {alpha} or beta {beta} is not finite", stored);
        }

        var aShape = PassContext.ShapeOf(node.Inputs[0]!);
        var m = aShape is { Count: 2 } ? Math.Max(transA ? aShape[1] : aShape[0], 1) : 1;
        return RuleMatch.Of(new MatrixCandidate(node, context, weight!, 1, values, stored, k, n, transB, m));
    }

    /// <inheritdoc/>
    public override FactorizationPlan? Plan(FactorizationCandidate candidate, RankTarget target, out string reason)
    {
        ArgumentNullException.ThrowIfNull(target);
        var c = (MatrixCandidate)candidate;
        var statistics = c.Context.InputStatisticsOf(c.Node);
        if (statistics is not null && DataAwareRules.Unusable(c, statistics) is null)
        {
            return DataAwareRules.Gemm(c, statistics, target, out reason);
        }

        var plan = c.PlanSvd(target.Policy, out reason);
        if (plan is null)
        {
            return null;
        }

        reason += c.DataAwareFallback(statistics);
        var node = c.Node;
        var alpha = node.GetFloat("alpha", 1f);
        var beta = node.GetFloat("beta", 1f);
        var transA = node.GetInt("transA", 0) != 0;
        var rank = plan.Choice.Rank;
        var decision = plan.Decision(c, alpha == 1f ? reason : reason + $" alpha {alpha} folded into the first factor.");
        return new FactorizationPlan(c, decision, Emit, () => c.Reconstruct(plan.Svd, rank));

        Node Emit()
        {
            var context = c.Context;
            var opset = context.Model.OpsetVersion();
            var (p, q) = context.Factors(c.Weight, plan.Svd, transposed: c.Transposed, rank, scale: alpha);
            var graph = node.Graph;
            var output = node.Outputs[0];
            Node first;
            if (!transA)
            {
                first = graph.AddNode("MatMul", [node.Inputs[0], p], [output.Name + "_svd"], c.Label + "_svd_a");
            }
            else if (opset >= 11)
            {
                first = graph.AddNode("Gemm", [node.Inputs[0], p], [output.Name + "_svd"], c.Label + "_svd_a", [NodeAttributes.Int("transA", 1)]);
            }
            else
            {
                // Before opset 11 Gemm requires C, so transpose A explicitly.
                var transposed = graph.AddNode("Transpose", [node.Inputs[0]], [output.Name + "_at"], c.Label + "_svd_t");
                first = graph.AddNode("MatMul", [transposed.Outputs[0], p], [output.Name + "_svd"], c.Label + "_svd_a");
            }

            var bias = node.Inputs.Count > 2 ? node.Inputs[2] : null;
            var secondInputs = bias is null ? new[] { first.Outputs[0], q } : [first.Outputs[0], q, bias];
            var secondAttributes = bias is null ? [] : new[] { NodeAttributes.Float("beta", beta) };
            return graph.AddNode("Gemm", secondInputs, [output.Name + "_svd_out"], c.Label + "_svd_b", secondAttributes);
        }
    }
}
