using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

/// <summary>Matches a Conv with a constant 1×1 (or 1-wide Conv1d) kernel W[C_out, C_in, 1…]; emits a 1×1 conv C_in→r
/// carrying the strides and pads, then a 1×1 conv r→C_out with the bias, from the truncated SVD of W as a C_out×C_in matrix
/// (Eckart–Young: the best rank-r approximation). This is the "svd" method for Conv.</summary>
public sealed class ConvPointwiseSvdPass : ConvMethodPass
{
    /// <inheritdoc/>
    public override string Method => "svd";

    internal override string? Unsupported(ConvGeometry geometry) =>
        geometry.IsPointwise ? null : $"svd applies to 1×1 kernels only, this one is {string.Join("×", geometry.Kernel)}";

    internal override ConvCandidate? Plan(ConvSubject subject, RankTarget target, bool requireSavings, out string reason)
    {
        var g = subject.Geometry;
        int rows = g.OutChannels, cols = g.InPerGroup;
        if (g.SpatialRank == 2 && subject.Context.InputStatisticsOf(subject.Node) is { } statistics && statistics.Dimension == cols)
        {
            return DataAwareRules.Conv(subject, statistics, target, requireSavings, out reason);
        }

        var policy = target.Policy;
        var needed = Math.Clamp(policy.RequiredSingularValues(rows, cols), 1, Math.Min(rows, cols));
        if (!requireSavings)
        {
            needed = Math.Min(rows, cols);
        }

        var svd = subject.Context.Svd(subject.Weight, subject.Values, rows, cols, transposed: false, needed);
        var choice = Choose(subject, target, svd.S, svd.FrobeniusNormSquared, rows, cols);
        var r = Math.Min(choice.Rank, svd.Rank);
        if (requireSavings && !choice.Saves)
        {
            reason = $"svd: {choice.Explanation}";
            return null;
        }

        var (a, b) = svd.BalancedFactors(r);
        var approx = new float[rows * cols];
        MatrixOps.Gemm(a, rows, r, b, cols, approx);
        var positions = g.OutputPositions;
        reason = $"svd: rank {r} of {Math.Min(rows, cols)} ({choice.Explanation})";
        return new ConvCandidate("svd", r, [r], choice.BreakEvenRank, (long)r * (rows + cols), FlopModel.Conv(r, cols, positions) + FlopModel.Conv(rows, r, positions),
            MatrixOps.RelativeError(subject.Values, approx), svd.S, reason, () => approx, s =>
            {
                // The strides and pads of a 1×1 conv go on the first conv: subsampling early is cheaper, and padded border
                // positions are zero there, so the second conv turns them into the bias exactly as the original did.
                var first = s.Conv(s.Node.Inputs[0]!, s.Initializer("_svd_b", s.Dims(r, cols, g.NoAxes), b), null, "_svd", g.Attributes(g.AllAxes));
                return s.Conv(first.Outputs[0], s.Initializer("_svd_a", s.Dims(rows, r, g.NoAxes), a), s.Bias, "_svd_out", g.Attributes(g.NoAxes));
            });
    }
}
