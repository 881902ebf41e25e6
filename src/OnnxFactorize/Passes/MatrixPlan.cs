using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

/// <summary>The SVD and rank chosen for one matrix weight (rows×cols), shared by the Gemm, MatMul and 1×1 Conv rules.</summary>
internal sealed record MatrixPlan(SvdResult Svd, RankChoice Choice)
{
    /// <summary>The decision for a node rewritten into the two factors: FLOPs after are 2·rows·k·(m+n).</summary>
    public FactorizationDecision Decision(MatrixCandidate candidate, string reason)
    {
        var node = candidate.Node;
        return new FactorizationDecision
        {
            NodeName = candidate.Label,
            OpType = node.OpType,
            GraphPath = node.Graph.Path,
            Method = "svd",
            Status = DecisionStatus.Factorized,
            Reason = reason,
            WeightShape = candidate.WeightShape,
            Rank = Choice.Rank,
            Ranks = [Choice.Rank],
            BreakEvenRank = Choice.BreakEvenRank,
            ParamsBefore = (long)Svd.Rows * Svd.Cols,
            ParamsAfter = ParamsAfter,
            FlopsBefore = candidate.FlopsBefore,
            FlopsAfter = FlopModel.Product(candidate.ActivationRows, Svd.Rows, Choice.Rank) + FlopModel.Product(candidate.ActivationRows, Choice.Rank, Svd.Cols),
            WeightRelError = RelativeError,
            SingularValues = Svd.S,
        };
    }

    /// <summary>Factor parameters k(m+n).</summary>
    public long ParamsAfter => (long)Choice.Rank * (Svd.Rows + Svd.Cols);

    /// <summary>Relative Frobenius error of the rank-k approximation (Eckart–Young: the tail energy).</summary>
    public double RelativeError => Svd.RelativeError(Choice.Rank);
}
