namespace OnnxFactorize.Passes;

/// <summary>A rule that can tell the cost of its plan before decomposing: <see cref="Factorizer.Decide"/> plans such rules
/// last and skips the decomposition when the price already exceeds a plan it has, which cannot change the choice.</summary>
internal interface IPricedRule
{
    /// <summary>Exactly the FLOPs and parameters <see cref="IFactorizationRule.Plan"/> would report for
    /// <paramref name="candidate"/> and <paramref name="target"/>; null when unknown without the decomposition or when the
    /// plan would be rejected before it.</summary>
    (long Flops, long Params)? Price(FactorizationCandidate candidate, RankTarget target);
}
