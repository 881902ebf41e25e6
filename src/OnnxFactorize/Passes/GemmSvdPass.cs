using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>Matches Gemm (Y = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A, B' = transB ? Bᵀ : B) whose B is a constant
/// weight; emits MatMul (or Gemm with transA) A'·P then Gemm ·Q + beta·C, where B' ≈ P·Q by truncated SVD and alpha is
/// folded into P. The bias C (any broadcastable shape, or none) and beta keep their exact meaning.</summary>
public sealed class GemmSvdPass : IFactorizationPass
{
    /// <inheritdoc/>
    public string OpType => "Gemm";

    /// <inheritdoc/>
    public FactorizationDecision Apply(Node node, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(context);
        var label = PassContext.Label(node);
        FactorizationDecision Skip(string reason, IReadOnlyList<long>? shape = null) => PassContext.Skipped(node, "svd", reason, shape);

        var opset = context.Model.OpsetVersion();
        if (opset is > 0 and < 7)
        {
            return Skip($"Gemm of opset {opset} (with the old broadcast attribute) is not supported; opset 7 or later is");
        }

        if (node.Inputs.Count < 2 || node.Inputs[0] is null || node.Inputs[1] is null)
        {
            return Skip("Gemm needs inputs A and B");
        }

        if (PassContext.ConstantTensor(node.Inputs[1]!) is null)
        {
            return Skip(PassContext.ConstantTensor(node.Inputs[0]!) is null
                ? "neither A nor B is a constant weight"
                : "only B may be the constant weight; A is constant here (not supported)");
        }

        var transA = node.GetInt("transA", 0) != 0;
        var transB = node.GetInt("transB", 0) != 0;
        var alpha = node.GetFloat("alpha", 1f);
        var beta = node.GetFloat("beta", 1f);
        var stored = PassContext.ShapeOf(node.Inputs[1]!)!;
        if (stored.Count != 2)
        {
            return Skip($"B has rank {stored.Count}; Gemm needs a 2-D B", stored);
        }

        var k = (int)(transB ? stored[1] : stored[0]);
        var n = (int)(transB ? stored[0] : stored[1]);
        var readError = context.TryReadWeight(node, 1, out var weight, out var values);
        if (readError is not null)
        {
            return Skip(readError, stored);
        }

        if (!float.IsFinite(alpha) || !float.IsFinite(beta))
        {
            return Skip($"alpha {alpha} or beta {beta} is not finite", stored);
        }

        var aShape = PassContext.ShapeOf(node.Inputs[0]!);
        var m = aShape is { Count: 2 } ? Math.Max(transA ? aShape[1] : aShape[0], 1) : 1;
        var flopsBefore = 2 * m * k * n;
        var plan = MatrixPlan.Create(context, node, weight!, values, k, n, transposed: transB, out var reason);
        if (plan is null)
        {
            return Skip(reason, stored) with { FlopsBefore = flopsBefore, FlopsAfter = flopsBefore };
        }

        var rank = plan.Choice.Rank;
        var (p, q) = context.Factors(weight!, plan.Svd, transposed: transB, rank, scale: alpha);
        var graph = node.Graph;
        var output = node.Outputs[0];
        Node first;
        if (!transA)
        {
            first = graph.AddNode("MatMul", [node.Inputs[0], p], [output.Name + "_svd"], label + "_svd_a");
        }
        else if (opset >= 11)
        {
            first = graph.AddNode("Gemm", [node.Inputs[0], p], [output.Name + "_svd"], label + "_svd_a", [NodeAttributes.Int("transA", 1)]);
        }
        else
        {
            // Before opset 11 Gemm requires C, so transpose A explicitly.
            var transposed = graph.AddNode("Transpose", [node.Inputs[0]], [output.Name + "_at"], label + "_svd_t");
            first = graph.AddNode("MatMul", [transposed.Outputs[0], p], [output.Name + "_svd"], label + "_svd_a");
        }

        var bias = node.Inputs.Count > 2 ? node.Inputs[2] : null;
        var secondInputs = bias is null ? new[] { first.Outputs[0], q } : [first.Outputs[0], q, bias];
        var secondAttributes = bias is null ? [] : new[] { NodeAttributes.Float("beta", beta) };
        var second = graph.AddNode("Gemm", secondInputs, [output.Name + "_svd_out"], label + "_svd_b", secondAttributes);
        graph.TransferOutput(node, 0, second, 0);

        return plan.Decision(node, label, stored, flopsBefore, m, alpha == 1f ? reason : reason + $" alpha {alpha} folded into the first factor.");
    }
}
