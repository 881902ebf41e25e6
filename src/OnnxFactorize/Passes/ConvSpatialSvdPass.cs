using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

/// <summary>Matches a Conv2d with a constant kernel W[C_out, C_in, k_h, k_w]; emits a k_h×1 conv C_in→r (height stride,
/// dilation and pads) then a 1×k_w conv r→C_out (width ones, and the bias), from the truncated SVD of W reshaped to the
/// (C_in·k_h)×(C_out·k_w) matrix M[(i,h),(o,w)] = W[o,i,h,w] (spatially separable filters, Jaderberg et al. 2014).</summary>
public sealed class ConvSpatialSvdPass : ConvMethodPass
{
    /// <inheritdoc/>
    public override string Method => "spatial-svd";

    internal override string? Unsupported(ConvGeometry geometry) => geometry switch
    {
        { SpatialRank: not 2 } => $"spatial-svd splits a 2-d kernel into height and width; this conv has {geometry.SpatialRank} spatial axes",
        { IsPointwise: true } => "spatial-svd: a 1×1 kernel has no spatial extent to split (use svd)",
        _ => null,
    };

    /// <inheritdoc/>
    internal override (long Flops, long Params)? Price(ConvSubject subject, RankTarget target, bool requireSavings)
    {
        if (ConvDataAwareRules.StatisticsOf(subject) is not null)
        {
            return null; // the data-aware plan's rank comes from output-space spectra: plan it, do not price it here
        }

        var g = subject.Geometry;
        int rows = g.InPerGroup * (int)g.Kernel[0], cols = g.OutChannels * (int)g.Kernel[1];
        if (SpectrumRank(subject, target, rows, cols) is not { } raw)
        {
            return null;
        }

        var choice = RankSelection.Choose(RankPolicy.Fixed(raw), [], subject.NormSquared, rows, cols, subject.Context.Options.RankMultiple);
        // As Plan: the rank is also capped at the number of triplets the SVD is asked for.
        var smaller = Math.Min(rows, cols);
        var computed = requireSavings ? Math.Clamp(target.Policy.RequiredSingularValues(rows, cols), 1, smaller) : smaller;
        var r = Math.Min(Math.Clamp(choice.Rank, 1, smaller), computed);
        return requireSavings && !choice.Saves ? null : (Flops(g, r), (long)r * (rows + cols));
    }

    // FLOPs of the chain at rank r: the first conv keeps the input width (1-wide, unit stride, unpadded along x).
    private static long Flops(ConvGeometry g, int r)
    {
        var middle = g.OutputSpatial is not null && g.InputSpatial is not null ? g.OutputSpatial[0] * g.InputSpatial[1] : g.OutputPositions;
        return FlopModel.Conv(r, (long)g.InPerGroup * g.Kernel[0], middle) + FlopModel.Conv(g.OutChannels, r * g.Kernel[1], g.OutputPositions);
    }

    // The policy's rank before rounding, known without the SVD: spectrum-free policies (ratio, fixed, compression) need no
    // values; an energy policy gets the eigenvalues of the reshaped kernel's smaller Gram matrix (no vectors: about a
    // seventh of the exact SVD), trusted only when the energy threshold is not within 1e-9 of a cumulative sum, where
    // rounding could move the rank the SVD finds. Null when it cannot be told.
    private static int? SpectrumRank(ConvSubject subject, RankTarget target, int rows, int cols)
    {
        if (target.Policy.EnergyFraction is not { } fraction)
        {
            return target.Policy.SelectRank([], subject.NormSquared, rows, cols);
        }

        if (subject.NormSquared <= 0)
        {
            return null;
        }

        if (subject.SpatialSpectrum is null)
        {
            var m = Reshape(subject, rows, cols);
            var smaller = Math.Min(rows, cols);
            if (rows > cols)
            {
                var t = new float[m.Length];
                MatrixOps.Transpose(m, rows, cols, t);
                m = t;
            }

            var gram = MatrixOps.GramRowsDouble(m, smaller, Math.Max(rows, cols), subject.Context.Options.Svd.MaxDegreeOfParallelism);
            subject.SpatialSpectrum = SymmetricEigen.Values(gram, smaller, subject.Context.CancellationToken);
        }

        var needed = fraction * subject.NormSquared * (1 - 1e-12);
        var kept = 0.0;
        var values = subject.SpatialSpectrum;
        for (var k = 0; k < values.Length; k++)
        {
            var before = kept;
            kept += Math.Max(values[k], 0);
            if (kept >= needed)
            {
                return before < needed * (1 - 1e-9) && kept >= needed * (1 + 1e-9) ? k + 1 : null;
            }
        }

        return null;
    }

    // M[(i,h),(o,w)] = W[o,i,h,w].
    private static float[] Reshape(ConvSubject subject, int rows, int cols)
    {
        var g = subject.Geometry;
        int co = g.OutChannels, ci = g.InPerGroup, kh = (int)g.Kernel[0], kw = (int)g.Kernel[1];
        var m = new float[rows * cols];
        var w = subject.Values;
        for (var o = 0; o < co; o++)
        {
            for (var i = 0; i < ci; i++)
            {
                for (var h = 0; h < kh; h++)
                {
                    for (var x = 0; x < kw; x++)
                    {
                        m[(i * kh + h) * cols + o * kw + x] = w[((o * ci + i) * kh + h) * kw + x];
                    }
                }
            }
        }

        return m;
    }

    internal override ConvCandidate? Plan(ConvSubject subject, RankTarget target, bool requireSavings, out string reason)
    {
        if (ConvDataAwareRules.StatisticsOf(subject) is { } statistics)
        {
            return ConvDataAwareRules.SpatialSvd(subject, statistics, target, requireSavings, out reason);
        }

        var g = subject.Geometry;
        int co = g.OutChannels, ci = g.InPerGroup, kh = (int)g.Kernel[0], kw = (int)g.Kernel[1];
        int rows = ci * kh, cols = co * kw;
        var w = subject.Values;

        // An energy target the chain cannot meet below break-even is seen from the eigenvalues alone, without the SVD.
        if (requireSavings && target.Policy.EnergyFraction is not null && SpectrumRank(subject, target, rows, cols) is { } early
            && early > RankSelection.BreakEvenRank(rows, cols))
        {
            var spectrum = subject.SpatialSpectrum!.Select(v => Math.Sqrt(Math.Max(v, 0))).ToArray();
            reason = $"spatial-svd: {Choose(subject, target, spectrum, subject.NormSquared, rows, cols).Explanation}";
            return null;
        }

        var m = Reshape(subject, rows, cols);
        var smaller = Math.Min(rows, cols);
        var needed = requireSavings ? Math.Clamp(target.Policy.RequiredSingularValues(rows, cols), 1, smaller) : smaller;

        // Not the shared PassContext.Svd cache: that one is keyed by tensor and holds the C_out×(C_in·Πk) view.
        var svd = TruncatedSvd.Compute(m, rows, cols, needed, subject.Context.Options.Svd, subject.Context.CancellationToken);
        var choice = Choose(subject, target, svd.S, svd.FrobeniusNormSquared, rows, cols);
        var r = Math.Min(choice.Rank, svd.Rank);
        if (requireSavings && !choice.Saves)
        {
            reason = $"spatial-svd: {choice.Explanation}";
            return null;
        }

        var (a, b) = svd.BalancedFactors(r);
        var approx = new float[rows * cols];
        MatrixOps.Gemm(a, rows, r, b, cols, approx);

        // The first conv keeps the input width (1-wide, unit stride, unpadded along x).
        var flops = Flops(g, r);
        reason = $"spatial-svd: rank {r} of {smaller} on the {rows}×{cols} reshaped kernel ({choice.Explanation})";
        return new ConvCandidate("spatial-svd", r, [r], choice.BreakEvenRank, (long)r * (rows + cols), flops, MatrixOps.RelativeError(m, approx), svd.S, reason, () =>
        {
            // Back from the [C_in·k_h, C_out·k_w] view to the stored [C_out, C_in, k_h, k_w].
            var stored = new float[w.Length];
            for (var o = 0; o < co; o++)
            {
                for (var i = 0; i < ci; i++)
                {
                    for (var h = 0; h < kh; h++)
                    {
                        for (var x = 0; x < kw; x++)
                        {
                            stored[((o * ci + i) * kh + h) * kw + x] = approx[(i * kh + h) * cols + o * kw + x];
                        }
                    }
                }
            }

            return stored;
        }, s =>
        {
            // Vertical kernel V[t, i, h, 0] = A[(i,h), t]; horizontal kernel H[o, t, 0, w] = B[t, (o,w)].
            var vertical = new float[r * ci * kh];
            for (var t = 0; t < r; t++)
            {
                for (var j = 0; j < ci * kh; j++)
                {
                    vertical[t * ci * kh + j] = a[j * r + t];
                }
            }

            var horizontal = new float[co * r * kw];
            for (var o = 0; o < co; o++)
            {
                for (var t = 0; t < r; t++)
                {
                    for (var x = 0; x < kw; x++)
                    {
                        horizontal[(o * r + t) * kw + x] = b[t * cols + o * kw + x];
                    }
                }
            }

            bool[] height = [true, false], width = [false, true];
            var first = s.Conv(s.Node.Inputs[0]!, s.Initializer("_ssvd_v", s.Dims(r, ci, height), vertical), null, "_ssvd", g.Attributes(height));
            return s.Conv(first.Outputs[0], s.Initializer("_ssvd_h", s.Dims(co, r, width), horizontal), s.Bias, "_ssvd_out", g.Attributes(width));
        });
    }
}
