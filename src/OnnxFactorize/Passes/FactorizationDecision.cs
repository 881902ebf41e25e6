namespace OnnxFactorize.Passes;

/// <summary>Whether a candidate node was rewritten.</summary>
public enum DecisionStatus
{
    /// <summary>The node was replaced by its factorized chain.</summary>
    Factorized,

    /// <summary>The node was left as it was; <see cref="FactorizationDecision.Reason"/> says why.</summary>
    Skipped,
}

/// <summary>What a pass decided for one node: the record that reports, budgets and tests read.</summary>
public sealed record FactorizationDecision
{
    /// <summary>Node name (or a generated identifier when the node has none).</summary>
    public required string NodeName { get; init; }

    /// <summary>Operator type: Gemm, MatMul or Conv.</summary>
    public required string OpType { get; init; }

    /// <summary>Path of the subgraph holding the node ("" for the main graph, else e.g. "If_0/then_branch").</summary>
    public string GraphPath { get; init; } = "";

    /// <summary>Factorization method: svd, tucker2, spatial-svd, depthwise, or "" when skipped before one was chosen.</summary>
    public string Method { get; init; } = "";

    /// <summary>Factorized or skipped.</summary>
    public required DecisionStatus Status { get; init; }

    /// <summary>Why the node was skipped, or how the method and rank were chosen.</summary>
    public string Reason { get; init; } = "";

    /// <summary>Shape of the weight tensor as stored in the model.</summary>
    public IReadOnlyList<long> WeightShape { get; init; } = [];

    /// <summary>Chosen rank (for Tucker-2: the output-mode rank; see <see cref="Ranks"/>); 0 when skipped.</summary>
    public int Rank { get; init; }

    /// <summary>All ranks of a multi-rank method (Tucker-2: [r_in, r_out]); a single entry otherwise.</summary>
    public IReadOnlyList<int> Ranks { get; init; } = [];

    /// <summary>Largest rank at which the factorization still saves parameters (break-even); 0 when unknown.</summary>
    public int BreakEvenRank { get; init; }

    /// <summary>Weight parameters before.</summary>
    public long ParamsBefore { get; init; }

    /// <summary>Weight parameters after (equal to before when skipped).</summary>
    public long ParamsAfter { get; init; }

    /// <summary>FLOPs (2 per multiply-add) before, from static shapes; 0 when shapes are unknown.</summary>
    public long FlopsBefore { get; init; }

    /// <summary>FLOPs after; 0 when shapes are unknown.</summary>
    public long FlopsAfter { get; init; }

    /// <summary>Relative Frobenius error of the approximated weight, ‖W − Ŵ‖_F / ‖W‖_F.</summary>
    public double WeightRelError { get; init; }

    /// <summary>How the factors were fitted: "plain" (the best approximation of the weight itself), "whiten" (data-aware:
    /// whitened SVD on the calibration inputs' centered Gram, bias corrected) or "sequential" (whitened first factor on the
    /// inputs of the model compressed so far, last factor and bias refitted to the original outputs).</summary>
    public string Mode { get; init; } = "plain";

    /// <summary>Data-aware only: predicted relative output error of the node on the calibration data after bias correction,
    /// ‖(W − Ŵ)(X − μ)‖_F / ‖W(X − μ)‖_F (exact when the input Gram is positive definite); in mode "sequential", the error
    /// against the original node's outputs, upstream compression included; null without calibration data.</summary>
    public double? OutputRelError { get; init; }

    /// <summary>Singular values of the weight (largest first, as many as were computed), for spectrum plots; in mode
    /// "whiten", of the whitened weight W·S (output space, what the rank policy acted on).</summary>
    public IReadOnlyList<double> SingularValues { get; init; } = [];
}
