using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

/// <summary>Matches a Conv with a constant kernel W[C_out, C_in, k…]; emits a 1×1 conv C_in→r_in (weights U_inᵀ), a k…
/// core conv r_in→r_out (G, all the spatial attributes) and a 1×1 conv r_out→C_out (U_out, and the bias), from the Tucker-2
/// decomposition W ≈ G ×₀ U_out ×₁ U_in (Kim et al. 2015, arXiv 1511.06530): HOSVD, then HOOI.</summary>
public sealed class ConvTucker2Pass : ConvMethodPass
{
    /// <inheritdoc/>
    public override string Method => "tucker2";

    internal override string? Unsupported(ConvGeometry geometry) =>
        geometry.IsPointwise ? "tucker2: a 1×1 kernel has no core to keep (use svd)" : null;

    /// <summary>The FLOPs and parameters <see cref="Plan"/> would report, from the mode spectra alone (no HOOI); null when
    /// it would reject the ranks for not saving parameters.</summary>
    internal override (long Flops, long Params)? Price(ConvSubject subject, RankTarget target, bool requireSavings)
    {
        if (ConvDataAwareRules.StatisticsOf(subject) is not null)
        {
            return null; // the data-aware plan's ranks come from output-space spectra: plan it, do not price it here
        }

        var (rankIn, rankOut, _, _) = Ranks(subject, target);
        var paramsAfter = Params(subject.Geometry, rankIn, rankOut);
        return requireSavings && paramsAfter >= subject.ParamsBefore ? null : (Flops(subject.Geometry, rankIn, rankOut), paramsAfter);
    }

    private static long Params(ConvGeometry g, long rIn, long rOut) => g.InPerGroup * rIn + rOut * rIn * g.KernelSize + rOut * g.OutChannels;

    private static long Flops(ConvGeometry g, long rIn, long rOut)
    {
        var pIn = g.InputSpatial is not null ? g.InputPositions : g.OutputPositions;
        var pOut = g.OutputPositions;
        return FlopModel.Conv(rIn, g.InPerGroup, pIn) + FlopModel.Conv(rOut, rIn * g.KernelSize, pOut) + FlopModel.Conv(g.OutChannels, rOut, pOut);
    }

    // The ranks for the target, from the mode spectra (computed once per subject: Price and Plan share them).
    private static (int RankIn, int RankOut, double[] SOut, string How) Ranks(ConvSubject subject, RankTarget target)
    {
        var g = subject.Geometry;
        int co = g.OutChannels, ci = g.InPerGroup, k = g.KernelSize;
        subject.TuckerSpectra ??= Tucker2.ModeSpectra(subject.Values, co, ci, k, subject.Context.CancellationToken);
        var (sOut, sIn) = subject.TuckerSpectra.Value;
        var frob2 = subject.NormSquared;
        var (rankIn, rankOut, how) = ChooseRanks(subject, target, sOut, frob2, sIn, frob2, (rIn, rOut) => Flops(g, rIn, rOut));
        return (rankIn, rankOut, sOut, how);
    }

    internal override ConvCandidate? Plan(ConvSubject subject, RankTarget target, bool requireSavings, out string reason)
    {
        var g = subject.Geometry;
        int co = g.OutChannels, ci = g.InPerGroup, k = g.KernelSize;
        var ct = subject.Context.CancellationToken;
        if (ConvDataAwareRules.StatisticsOf(subject) is { } statistics)
        {
            return ConvDataAwareRules.Tucker2(subject, statistics, target, requireSavings, out reason);
        }

        var (rankIn, rankOut, sOut, how) = Ranks(subject, target);
        long Params(long rIn, long rOut) => ConvTucker2Pass.Params(g, rIn, rOut);
        long Flops(long rIn, long rOut) => ConvTucker2Pass.Flops(g, rIn, rOut);

        var breakEven = 0;
        while (Params(breakEven + 1, breakEven + 1) < subject.ParamsBefore && breakEven < Math.Min(co, ci))
        {
            breakEven++;
        }

        var paramsAfter = Params(rankIn, rankOut);
        if (requireSavings && paramsAfter >= subject.ParamsBefore)
        {
            reason = $"tucker2: ranks [r_in {rankIn}, r_out {rankOut}] ({how}) hold {paramsAfter} parameters, not fewer than {subject.ParamsBefore} (equal-rank break-even {breakEven})";
            return null;
        }

        var tucker = Tucker2.Decompose(subject.Values, co, ci, k, rankOut, rankIn, cancellationToken: ct);
        var approx = tucker.Reconstruct();
        var error = MatrixOps.RelativeError(subject.Values, approx);
        reason = $"tucker2: ranks [r_in {rankIn}, r_out {rankOut}] of [{ci}, {co}] by {how}; HOOI {tucker.Iterations} sweep(s), error {tucker.HosvdRelativeError:G4} → {tucker.RelativeError:G4}";
        return new ConvCandidate("tucker2", rankOut, [rankIn, rankOut], breakEven, paramsAfter, Flops(rankIn, rankOut), error, sOut, reason, () => approx, s =>
        {
            // First conv: U_inᵀ as [r_in, C_in, 1…]; last conv: U_out as [C_out, r_out, 1…] (both row-major already).
            var uInT = new float[rankIn * ci];
            MatrixOps.Transpose(tucker.UIn, ci, rankIn, uInT);
            var first = s.Conv(s.Node.Inputs[0]!, s.Initializer("_tucker_in", s.Dims(rankIn, ci, g.NoAxes), uInT), null, "_tucker_in", g.Attributes(g.NoAxes));
            var core = s.Conv(first.Outputs[0], s.Initializer("_tucker_core", s.Dims(rankOut, rankIn, g.AllAxes), tucker.Core), null, "_tucker_core", g.Attributes(g.AllAxes));
            return s.Conv(core.Outputs[0], s.Initializer("_tucker_out", s.Dims(co, rankOut, g.NoAxes), tucker.UOut), s.Bias, "_tucker_out", g.Attributes(g.NoAxes));
        });
    }

    /// <summary>The ranks [r_in, r_out] for <paramref name="target"/> from the mode spectra (σ of the output and input
    /// unfoldings with their total energies): with an error target the cheapest pair whose HOSVD bound meets it, else the
    /// policy (or EVBMF) on each unfolding, rounded to the rank multiple.</summary>
    internal static (int RankIn, int RankOut, string How) ChooseRanks(ConvSubject subject, RankTarget target, double[] sOut, double frob2Out,
        double[] sIn, double frob2In, Func<long, long, long> flops)
    {
        var g = subject.Geometry;
        int co = g.OutChannels, ci = g.InPerGroup, k = g.KernelSize;
        var multiple = subject.Context.Options.RankMultiple;
        int Round(int r, int dim) => Math.Min((r + multiple - 1) / multiple * multiple, dim);
        int rankIn, rankOut;
        string how;
        if (target.MaxError is { } maxError)
        {
            // HOSVD bound: ‖W − Ŵ‖² ≤ tail_out(r_out) + tail_in(r_in) (De Lathauwer et al. 2000, Property 10), and HOOI
            // only improves on it; take the cheapest pair whose bound meets the error.
            var tailOut = Tails(sOut, frob2Out);
            var tailIn = Tails(sIn, frob2In);
            var budget = maxError * maxError * (1 + 1e-9);
            (rankIn, rankOut) = (ci, co);
            var best = long.MaxValue;
            for (var ro = 1; ro <= co; ro++)
            {
                var rOut = Round(ro, co);
                for (var ri = 1; ri <= ci; ri++)
                {
                    var rIn = Round(ri, ci);
                    if (Relative(tailOut[rOut], frob2Out) + Relative(tailIn[rIn], frob2In) <= budget)
                    {
                        var f = flops(rIn, rOut);
                        if (f < best)
                        {
                            (best, rankIn, rankOut) = (f, rIn, rOut);
                        }

                        break;
                    }
                }
            }

            how = $"cheapest ranks whose HOSVD error bound meets {maxError:G4}";
        }
        else if (subject.Context.Options.TuckerRanks == TuckerRankEstimate.Vbmf)
        {
            rankOut = Round(Vbmf.EstimateRank(sOut, co, ci * k, frob2Out), co);
            rankIn = Round(Vbmf.EstimateRank(sIn, ci, co * k, frob2In), ci);
            how = "EVBMF on each unfolding";
        }
        else
        {
            rankOut = Round(Math.Clamp(target.Policy.SelectRank(sOut, frob2Out, co, ci * k), 1, co), co);
            rankIn = Round(Math.Clamp(target.Policy.SelectRank(sIn, frob2In, ci, co * k), 1, ci), ci);
            how = $"{target.Policy} on each unfolding";
        }

        return (rankIn, rankOut, how);
    }

    private static double Relative(double tail, double total) => total > 0 ? tail / total : 0;

    // tails[r] = ‖W‖² − Σ_{j<r} σ_j², for r = 0 … n.
    private static double[] Tails(double[] s, double frob2)
    {
        var tails = new double[s.Length + 1];
        var kept = 0.0;
        tails[0] = frob2;
        for (var r = 0; r < s.Length; r++)
        {
            kept += s[r] * s[r];
            tails[r + 1] = Math.Max(0, frob2 - kept);
        }

        return tails;
    }
}
