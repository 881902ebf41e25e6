using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

/// <summary>Matches a Conv with a constant kernel W[C_out, C_in, k…]; emits a depthwise conv (group = C_in, r filters per
/// input channel, all the spatial attributes) then a 1×1 conv C_in·r→C_out with the bias (depthwise-separable substitution,
/// Howard et al. 2017). Per input channel i, W[:, i, :] as a C_out×Πk matrix ≈ P_i D_i by truncated SVD with one rank r for
/// all channels; r = min(C_out, Πk) is exact.</summary>
public sealed class ConvDepthwiseSeparablePass : ConvMethodPass
{
    /// <inheritdoc/>
    public override string Method => "depthwise";

    internal override string? Unsupported(ConvGeometry geometry) =>
        geometry.IsPointwise ? "depthwise: a 1×1 kernel has no spatial extent for a depthwise conv (use svd)" : null;

    internal override ConvCandidate? Plan(ConvSubject subject, RankTarget target, bool requireSavings, out string reason)
    {
        if (ConvDataAwareRules.StatisticsOf(subject) is { } statistics)
        {
            return ConvDataAwareRules.Depthwise(subject, statistics, target, requireSavings, out reason);
        }

        var g = subject.Geometry;
        int co = g.OutChannels, ci = g.InPerGroup, k = g.KernelSize;
        var full = Math.Min(co, k);
        var svds = new SvdResult[ci];
        var slice = new float[co * k];
        var aggregate = new double[full];
        for (var i = 0; i < ci; i++)
        {
            subject.Context.CancellationToken.ThrowIfCancellationRequested();
            for (var o = 0; o < co; o++)
            {
                Array.Copy(subject.Values, (o * ci + i) * k, slice, o * k, k);
            }

            svds[i] = TruncatedSvd.ComputeExact(slice, co, k, subject.Context.CancellationToken);
            for (var t = 0; t < full; t++)
            {
                aggregate[t] += svds[i].S[t] * svds[i].S[t];
            }
        }

        // With one rank for every channel, Σ_i tail_i(r) is the squared error, so the policy runs on the spectrum
        // a_t = (Σ_i σ_{i,t}²)^½ of a C_out×Πk matrix: energy is then exact, and k(m+n) < mn is the parameter break-even.
        for (var t = 0; t < full; t++)
        {
            aggregate[t] = Math.Sqrt(aggregate[t]);
        }

        var choice = Choose(subject, target, aggregate, subject.NormSquared, co, k);
        var r = choice.Rank;
        if (requireSavings && !choice.Saves)
        {
            reason = $"depthwise: {choice.Explanation}";
            return null;
        }

        var depthwise = new float[ci * r * k];
        var pointwise = new float[co * ci * r];
        var approx = new float[subject.Values.Length];
        var product = new float[co * k];
        for (var i = 0; i < ci; i++)
        {
            var (p, d) = svds[i].BalancedFactors(r);
            Array.Copy(d, 0, depthwise, i * r * k, r * k);
            for (var o = 0; o < co; o++)
            {
                Array.Copy(p, o * r, pointwise, (o * ci + i) * r, r);
            }

            MatrixOps.Gemm(p, co, r, d, k, product);
            for (var o = 0; o < co; o++)
            {
                Array.Copy(product, o * k, approx, (o * ci + i) * k, k);
            }
        }

        var positions = g.OutputPositions;
        var flops = FlopModel.Conv((long)ci * r, k, positions) + FlopModel.Conv(co, (long)ci * r, positions);
        reason = $"depthwise: {r} filter(s) per input channel of {full} ({choice.Explanation})";
        return new ConvCandidate("depthwise", r, [r], choice.BreakEvenRank, (long)ci * r * k + (long)co * ci * r, flops,
            MatrixOps.RelativeError(subject.Values, approx), aggregate, reason, () => approx, s =>
            {
                var first = s.Conv(s.Node.Inputs[0]!, s.Initializer("_dw", s.Dims(ci * r, 1, g.AllAxes), depthwise), null, "_dw", g.Attributes(g.AllAxes, group: ci));
                return s.Conv(first.Outputs[0], s.Initializer("_pw", s.Dims(co, ci * r, g.NoAxes), pointwise), s.Bias, "_pw_out", g.Attributes(g.NoAxes));
            });
    }
}
