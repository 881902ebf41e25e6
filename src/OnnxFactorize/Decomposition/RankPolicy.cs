using System.Globalization;

namespace OnnxFactorize.Decomposition;

/// <summary>Per-node rank policy (immutable). Factory methods validate and throw <see cref="OnnxFactorizeException"/> naming the bad value.</summary>
public abstract record RankPolicy
{
    private protected RankPolicy()
    {
    }

    /// <summary>Always the given rank (≥ 1).</summary>
    public static RankPolicy Fixed(int rank) =>
        rank >= 1 ? new FixedPolicy(rank) : throw new OnnxFactorizeException($"rank must be ≥ 1, got {rank}.");

    /// <summary>ceil(ratio · min(m, n)), ratio in (0, 1].</summary>
    public static RankPolicy Ratio(double ratio) =>
        ratio > 0 && ratio <= 1 ? new RatioPolicy(ratio) : throw new OnnxFactorizeException($"ratio must be in (0, 1], got {Format(ratio)}.");

    /// <summary>Smallest k with Σ_{i&lt;k} σ_i² ≥ energy · ‖W‖_F², energy in (0, 1].</summary>
    public static RankPolicy Energy(double energy) =>
        energy > 0 && energy <= 1 ? new EnergyPolicy(energy) : throw new OnnxFactorizeException($"energy must be in (0, 1], got {Format(energy)}.");

    /// <summary>Largest k whose factors hold at most ratio · m·n parameters, i.e. k(m+n) ≤ ratio·mn, ratio in (0, 1).</summary>
    public static RankPolicy Compression(double ratio) =>
        ratio > 0 && ratio < 1 ? new CompressionPolicy(ratio) : throw new OnnxFactorizeException($"compression must be in (0, 1), got {Format(ratio)}.");

    /// <summary>How many leading singular values must be computed to decide (e.g. for Energy: up to the break-even rank, since beyond it the node is not worth factorizing).</summary>
    public abstract int RequiredSingularValues(int rows, int cols);

    /// <summary>Chosen rank before rounding/capping (may exceed break-even; the caller decides).</summary>
    public abstract int SelectRank(ReadOnlySpan<double> singularValues, double frobeniusNormSquared, int rows, int cols);

    /// <summary>Short description for reports, e.g. "energy 0.99".</summary>
    public abstract override string ToString();

    /// <summary>The fraction of Σσ² kept, for an energy policy; null for the others.</summary>
    public virtual double? EnergyFraction => null;

    private protected static string Format(double value) => value.ToString("G", CultureInfo.InvariantCulture);

    private static void CheckShape(int rows, int cols)
    {
        if (rows < 1 || cols < 1)
        {
            throw new ArgumentOutOfRangeException(rows < 1 ? nameof(rows) : nameof(cols), $"matrix shape must be positive, got {rows}×{cols}.");
        }
    }

    private sealed record FixedPolicy(int Rank) : RankPolicy
    {
        public override int RequiredSingularValues(int rows, int cols)
        {
            CheckShape(rows, cols);
            return Math.Min(Rank, Math.Min(rows, cols));
        }

        public override int SelectRank(ReadOnlySpan<double> singularValues, double frobeniusNormSquared, int rows, int cols)
        {
            CheckShape(rows, cols);
            return Rank;
        }

        public override string ToString() => $"fixed rank {Rank}";
    }

    private sealed record RatioPolicy(double Fraction) : RankPolicy
    {
        public override int RequiredSingularValues(int rows, int cols) => SelectRank([], 0, rows, cols);

        public override int SelectRank(ReadOnlySpan<double> singularValues, double frobeniusNormSquared, int rows, int cols)
        {
            CheckShape(rows, cols);

            // The small epsilon keeps e.g. 0.3·10 = 3.0000000000000004 from rounding up to 4.
            return Math.Max(1, (int)Math.Ceiling(Fraction * Math.Min(rows, cols) - 1e-9));
        }

        public override string ToString() => $"ratio {Format(Fraction)}";
    }

    private sealed record EnergyPolicy(double Fraction) : RankPolicy
    {
        public override double? EnergyFraction => Fraction;

        // Beyond break-even the node is left alone, so one value past it is enough to know that.
        public override int RequiredSingularValues(int rows, int cols)
        {
            CheckShape(rows, cols);
            return Math.Min(RankSelection.BreakEvenRank(rows, cols) + 1, Math.Min(rows, cols));
        }

        public override int SelectRank(ReadOnlySpan<double> singularValues, double frobeniusNormSquared, int rows, int cols)
        {
            CheckShape(rows, cols);
            if (frobeniusNormSquared <= 0)
            {
                return 1;
            }

            // ‖W‖_F² is exact, so the criterion is exact even when only the leading values were computed.
            var target = Fraction * frobeniusNormSquared;
            var kept = 0.0;
            for (var k = 0; k < singularValues.Length; k++)
            {
                kept += singularValues[k] * singularValues[k];
                if (kept >= target * (1 - 1e-12))
                {
                    return k + 1;
                }
            }

            // Not reached with the values given: more are needed than were computed.
            return Math.Min(singularValues.Length + 1, Math.Min(rows, cols));
        }

        public override string ToString() => $"energy {Format(Fraction)}";
    }

    private sealed record CompressionPolicy(double Fraction) : RankPolicy
    {
        public override int RequiredSingularValues(int rows, int cols) => SelectRank([], 0, rows, cols);

        public override int SelectRank(ReadOnlySpan<double> singularValues, double frobeniusNormSquared, int rows, int cols)
        {
            CheckShape(rows, cols);
            var k = (int)Math.Floor(Fraction * rows * cols / ((double)rows + cols) + 1e-9);
            return Math.Max(1, k);
        }

        public override string ToString() => $"compression {Format(Fraction)}";
    }
}
