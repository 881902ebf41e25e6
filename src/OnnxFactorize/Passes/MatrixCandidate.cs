using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>A Gemm or MatMul whose constant weight is viewed as a rows×cols matrix (the stored tensor, transposed when
/// <see cref="Transposed"/>); <see cref="ActivationRows"/> is how many rows (or columns) of activations multiply it.</summary>
public sealed class MatrixCandidate : FactorizationCandidate
{
    internal MatrixCandidate(Node node, PassContext context, Value weight, int weightIndex, float[] values, IReadOnlyList<long> weightShape,
        int rows, int cols, bool transposed, long activationRows)
        : base(node, context, weight, weightIndex, values, weightShape)
    {
        Rows = rows;
        Cols = cols;
        Transposed = transposed;
        ActivationRows = activationRows;
    }

    /// <summary>Rows of the matrix view.</summary>
    public int Rows { get; }

    /// <summary>Columns of the matrix view.</summary>
    public int Cols { get; }

    /// <summary>Whether the matrix view is the stored tensor transposed (Gemm transB).</summary>
    public bool Transposed { get; }

    /// <summary>Rows (or columns) of activations each factor multiplies.</summary>
    public long ActivationRows { get; }

    /// <inheritdoc/>
    public override long FlopsBefore => FlopModel.Product(ActivationRows, Rows, Cols);

    /// <summary>Factor parameters k(m+n) when factorized at rank <paramref name="rank"/>.</summary>
    public long ParamsAt(int rank) => (long)rank * (Rows + Cols);

    /// <summary>The shared step of the Gemm and MatMul rules: decomposes the weight as far as the policy needs and chooses
    /// the rank; null with a reason when factorizing would not save parameters at the chosen rank.</summary>
    internal MatrixPlan? PlanSvd(RankPolicy policy, out string reason)
    {
        var breakEven = RankSelection.BreakEvenRank(Rows, Cols);
        if (breakEven < 1)
        {
            reason = $"a {Rows}×{Cols} weight cannot be factorized with savings at any rank (k(m+n) ≥ mn already at k = 1)";
            return null;
        }

        var needed = Math.Min(Math.Max(policy.RequiredSingularValues(Rows, Cols), 1), Math.Min(Rows, Cols));
        var svd = Context.Svd(Weight, Values, Rows, Cols, Transposed, needed);
        var choice = RankSelection.Choose(policy, svd.S, svd.FrobeniusNormSquared, Rows, Cols, Context.Options.RankMultiple);
        if (!choice.Saves)
        {
            reason = choice.Explanation;
            return null;
        }

        if (choice.Rank > svd.Rank)
        {
            // Rounding up to the rank multiple can ask for more triplets than the policy needed to decide.
            svd = Context.Svd(Weight, Values, Rows, Cols, Transposed, choice.Rank);
        }

        reason = choice.Explanation;
        return new MatrixPlan(svd, choice);
    }

    /// <summary>With data-aware factorization on, why this node was fitted weight-space (appended to its reason); else "".</summary>
    internal string DataAwareFallback(GramAccumulator? statistics) =>
        Context.Options.DataAware == DataAwareMode.None ? "" : $" Data-aware: plain svd here ({DataAwareRules.Unusable(this, statistics)}).";

    /// <summary>Ŵ = A·B in the stored layout (transposed back when the view is transposed); Gemm's alpha is not part of it.</summary>
    internal float[] Reconstruct(SvdResult svd, int rank)
    {
        var (a, b) = svd.BalancedFactors(rank);
        var product = new float[Rows * Cols];
        MatrixOps.Gemm(a, Rows, rank, b, Cols, product);
        if (!Transposed)
        {
            return product;
        }

        var stored = new float[product.Length];
        MatrixOps.Transpose(product, Rows, Cols, stored);
        return stored;
    }
}
