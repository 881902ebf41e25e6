namespace OnnxFactorize.Decomposition;

/// <summary>Turns a rank policy and a spectrum into a rank, honouring the parameter break-even point.</summary>
internal static class RankSelection
{
    /// <summary>Largest k with k(m+n) &lt; m·n: the biggest rank whose two factors still hold fewer parameters than the matrix.</summary>
    public static int BreakEvenRank(int rows, int cols)
    {
        if (rows < 1 || cols < 1)
        {
            throw new ArgumentOutOfRangeException(rows < 1 ? nameof(rows) : nameof(cols), $"matrix shape must be positive, got {rows}×{cols}.");
        }

        return (int)(((long)rows * cols - 1) / ((long)rows + cols));
    }

    /// <summary>Apply the policy, then round up to a multiple of rankMultiple (≥1) but never above min(breakEven, min(m,n)); returns the rank and whether it is worth factorizing (rank ≤ breakEven).</summary>
    public static RankChoice Choose(RankPolicy policy, ReadOnlySpan<double> singularValues, double frobeniusNormSquared, int rows, int cols, int rankMultiple = 1)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (rankMultiple < 1)
        {
            throw new OnnxFactorizeException($"rank multiple must be ≥ 1, got {rankMultiple}.");
        }

        var breakEven = BreakEvenRank(rows, cols);
        var smaller = Math.Min(rows, cols);
        var raw = policy.SelectRank(singularValues, frobeniusNormSquared, rows, cols);
        if (raw > breakEven)
        {
            var rank = Math.Min(raw, smaller);
            return new RankChoice(rank, breakEven, false,
                $"{policy} needs rank {rank} but break-even for {rows}×{cols} is {breakEven}: factorizing would not save parameters");
        }

        var rounded = Math.Min((raw + rankMultiple - 1) / rankMultiple * rankMultiple, breakEven);
        var saved = 1.0 - (double)rounded * (rows + cols) / ((double)rows * cols);
        var rounding = rounded == raw ? "" : rounded % rankMultiple == 0
            ? $", rounded up from {raw} to a multiple of {rankMultiple}"
            : $", rounded up from {raw} and capped at break-even";
        return new RankChoice(rounded, breakEven, true,
            $"{policy} → rank {rounded}{rounding} (break-even {breakEven}); keeps {(1 - saved) * 100:F1} % of {rows}×{cols} parameters");
    }
}
