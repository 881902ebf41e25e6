using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>Matches MatMul with a constant 2-D weight as the right operand (X·W, X of any rank ≥ 1, broadcast batch dims)
/// or the left operand (W·X); emits two thinner MatMuls through the truncated SVD W ≈ A·B, A = U_k Σ_k^½, B = Σ_k^½ V_kᵀ
/// (the best rank-k choice, Eckart–Young). The output keeps its name, so everything downstream is untouched.</summary>
public sealed class MatMulSvdPass : IFactorizationPass
{
    /// <inheritdoc/>
    public string OpType => "MatMul";

    /// <inheritdoc/>
    public FactorizationDecision Apply(Node node, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(context);
        var label = PassContext.Label(node);
        FactorizationDecision Skip(string reason, IReadOnlyList<long>? shape = null) => PassContext.Skipped(node, "svd", reason, shape);

        if (node.Inputs.Count != 2 || node.Inputs[0] is null || node.Inputs[1] is null)
        {
            return Skip("MatMul needs exactly two inputs");
        }

        var leftConst = PassContext.ConstantTensor(node.Inputs[0]!) is not null;
        var rightConst = PassContext.ConstantTensor(node.Inputs[1]!) is not null;
        if (leftConst && rightConst)
        {
            return Skip("both operands are constant (a constant-folding candidate, not a factorization one)");
        }

        if (!leftConst && !rightConst)
        {
            return Skip("neither operand is a constant weight");
        }

        var weightIndex = rightConst ? 1 : 0;
        var weightShape = PassContext.ShapeOf(node.Inputs[weightIndex]!)!;
        if (weightShape.Count != 2)
        {
            return Skip($"the constant operand has rank {weightShape.Count}; only 2-D weights are factorized", weightShape);
        }

        var rows = (int)weightShape[0];
        var cols = (int)weightShape[1];
        var readError = context.TryReadWeight(node, weightIndex, out var weight, out var values);
        if (readError is not null)
        {
            return Skip(readError, weightShape);
        }

        var plan = MatrixPlan.Create(context, node, weight!, values, rows, cols, transposed: false, out var reason);
        var activationShape = PassContext.ShapeOf(node.Inputs[1 - weightIndex]!);

        // FLOPs: X·W with X [..., K] costs 2·(rows of X)·K·N; W·X with X [..., K, N] costs 2·M·K·(batch·N).
        var otherCount = weightIndex == 1 ? PassContext.StaticCount(activationShape, skipLast: 1) : PassContext.StaticCount(activationShape) / Math.Max(cols, 1);
        var flopsBefore = 2 * otherCount * rows * cols;
        if (plan is null)
        {
            return Skip(reason, weightShape) with { FlopsBefore = flopsBefore, FlopsAfter = flopsBefore };
        }

        var k = plan.Choice.Rank;
        var (a, b) = context.Factors(weight!, plan.Svd, transposed: false, k);
        var graph = node.Graph;
        var output = node.Outputs[0];
        Node first;
        Node second;
        if (weightIndex == 1)
        {
            // Y = (X·A)·B
            first = graph.AddNode("MatMul", [node.Inputs[0], a], [output.Name + "_svd"], label + "_svd_a");
            second = graph.AddNode("MatMul", [first.Outputs[0], b], [output.Name + "_svd_out"], label + "_svd_b");
        }
        else
        {
            // Y = A·(B·X)
            first = graph.AddNode("MatMul", [b, node.Inputs[1]], [output.Name + "_svd"], label + "_svd_b");
            second = graph.AddNode("MatMul", [a, first.Outputs[0]], [output.Name + "_svd_out"], label + "_svd_a");
        }

        graph.TransferOutput(node, 0, second, 0);
        return plan.Decision(node, label, weightShape, flopsBefore, otherCount, reason);
    }
}
