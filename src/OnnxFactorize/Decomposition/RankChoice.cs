namespace OnnxFactorize.Decomposition;

/// <summary>The rank chosen for a node, its break-even rank, whether factorizing saves parameters, and why, in words.</summary>
/// <param name="Rank">Chosen rank (after rounding and capping).</param>
/// <param name="BreakEvenRank">Largest rank that still saves parameters.</param>
/// <param name="Saves">Whether Rank ≤ BreakEvenRank, i.e. factorizing is worth it.</param>
/// <param name="Explanation">One line for reports.</param>
internal readonly record struct RankChoice(int Rank, int BreakEvenRank, bool Saves, string Explanation);
