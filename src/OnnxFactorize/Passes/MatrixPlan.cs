using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>The SVD and rank chosen for one matrix weight (rows×cols), shared by the Gemm, MatMul and 1×1 Conv passes.</summary>
public sealed record MatrixPlan(SvdResult Svd, RankChoice Choice)
{
    /// <summary>Decomposes the weight as far as the rank policy needs and chooses the rank. Returns null with a reason when
    /// factorizing would not save parameters at the chosen rank.</summary>
    public static MatrixPlan? Create(PassContext context, Value weight, float[] values, int rows, int cols, bool transposed, out string reason)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Create(context, context.Options.RankPolicy, weight, values, rows, cols, transposed, out reason);
    }

    /// <summary>Same as the other overload, with the policy of <paramref name="node"/> (its per-node override, if any).</summary>
    public static MatrixPlan? Create(PassContext context, Node node, Value weight, float[] values, int rows, int cols, bool transposed, out string reason)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Create(context, context.PolicyFor(node), weight, values, rows, cols, transposed, out reason);
    }

    private static MatrixPlan? Create(PassContext context, RankPolicy policy, Value weight, float[] values, int rows, int cols, bool transposed, out string reason)
    {
        var options = context.Options;
        var breakEven = RankSelection.BreakEvenRank(rows, cols);
        if (breakEven < 1)
        {
            reason = $"a {rows}×{cols} weight cannot be factorized with savings at any rank (k(m+n) ≥ mn already at k = 1)";
            return null;
        }

        var needed = Math.Min(Math.Max(policy.RequiredSingularValues(rows, cols), 1), Math.Min(rows, cols));
        var svd = context.Svd(weight, values, rows, cols, transposed, needed);
        var choice = RankSelection.Choose(policy, svd.S, svd.FrobeniusNormSquared, rows, cols, options.RankMultiple);
        if (!choice.Saves)
        {
            reason = choice.Explanation;
            return null;
        }

        if (choice.Rank > svd.Rank)
        {
            // Rounding up to the rank multiple can ask for more triplets than the policy needed to decide.
            svd = context.Svd(weight, values, rows, cols, transposed, choice.Rank);
        }

        reason = choice.Explanation;
        return new MatrixPlan(svd, choice);
    }

    /// <summary>The decision for a node rewritten into the two factors: <paramref name="activationRows"/> is how many rows
    /// (or columns) of activations each factor multiplies, so FLOPs after are 2·rows·k·(m+n).</summary>
    public FactorizationDecision Decision(Graph.Node node, string label, IReadOnlyList<long> weightShape, long flopsBefore, long activationRows, string reason)
    {
        ArgumentNullException.ThrowIfNull(node);
        return new FactorizationDecision
        {
            NodeName = label,
            OpType = node.OpType,
            GraphPath = node.Graph.Path,
            Method = "svd",
            Status = DecisionStatus.Factorized,
            Reason = reason,
            WeightShape = weightShape,
            Rank = Choice.Rank,
            Ranks = [Choice.Rank],
            BreakEvenRank = Choice.BreakEvenRank,
            ParamsBefore = (long)Svd.Rows * Svd.Cols,
            ParamsAfter = ParamsAfter,
            FlopsBefore = flopsBefore,
            FlopsAfter = 2 * activationRows * Choice.Rank * (Svd.Rows + Svd.Cols),
            WeightRelError = RelativeError,
            SingularValues = Svd.S,
        };
    }

    /// <summary>Factor parameters k(m+n).</summary>
    public long ParamsAfter => (long)Choice.Rank * (Svd.Rows + Svd.Cols);

    /// <summary>Relative Frobenius error of the rank-k approximation (Eckart–Young: the tail energy).</summary>
    public double RelativeError => Svd.RelativeError(Choice.Rank);
}
