using System.Globalization;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Passes;

/// <summary>The data-aware (whiten) plans of the k×k Conv2d methods, from the centered Gram C and mean μ of the conv's
/// im2col patches on the calibration data (<see cref="PassContext.InputStatisticsOf"/>). Every chain is a first stage that
/// is linear in the patch (no bias) followed by a last stage M, so it computes the conv with kernel Ŵ = M·K exactly, and
/// ‖(W − Ŵ)(X − μ)‖_F² = tr((W − Ŵ) C (W − Ŵ)ᵀ):
/// <list type="bullet">
/// <item>spatial-svd: the vertical factor from the SVD of the kernel whitened by the vertical-patch covariance (the (C_in·kh)
/// Gram averaged over the kw columns), then the horizontal factor refitted by least squares on the full patch Gram;</item>
/// <item>tucker2: U_in from the channel-whitened mode-in unfolding, then (core, U_out) as the reduced-rank regression of
/// the outputs on the projected patches (Zhang et al. 2016: output directions from the response covariance);</item>
/// <item>depthwise: each channel's filters from its own whitened SVD, then the pointwise conv refitted by least squares.</item>
/// </list>
/// The bias correction (W − Ŵ)·μ goes into the last conv's bias. docs/data-aware.md says which step is exact.</summary>
internal static class ConvDataAwareRules
{
    /// <summary>Largest patch length C_in·kh·kw whose statistics are collected (the Gram costs n² per output position).</summary>
    public const int MaxPatchLength = 2304;

    /// <summary>Whether a k×k Conv2d's patches can be collected: group 1, explicit (or VALID) padding, patch length within
    /// <see cref="MaxPatchLength"/>; null when they can, else why not.</summary>
    public static string? Uncollectable(ConvGeometry g)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (g.SpatialRank != 2 || g.Group != 1)
        {
            return "only group-1 Conv2d";
        }

        if (g.AutoPad is not ("NOTSET" or "VALID"))
        {
            return $"auto_pad {g.AutoPad} (explicit pads only)";
        }

        var length = (long)g.InPerGroup * g.KernelSize;
        return length > MaxPatchLength ? $"patch length {length} above {MaxPatchLength}" : null;
    }

    /// <summary>The patch statistics of a k×k Conv2d when data-aware factorization is on and they were collected; else null.</summary>
    public static GramAccumulator? StatisticsOf(ConvSubject subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var g = subject.Geometry;
        return !g.IsPointwise && Uncollectable(g) is null && subject.Context.InputStatisticsOf(subject.Node) is { } s && s.Dimension == g.InPerGroup * g.KernelSize
            ? s
            : null;
    }

    /// <summary>spatial-svd fitted to the data: kh×1 conv C_in→r then 1×kw conv r→C_out with the corrected bias.</summary>
    public static ConvCandidate? SpatialSvd(ConvSubject subject, GramAccumulator statistics, RankTarget target, bool requireSavings, out string reason)
    {
        var g = subject.Geometry;
        var ct = subject.Context.CancellationToken;
        int co = g.OutChannels, ci = g.InPerGroup, kh = (int)g.Kernel[0], kw = (int)g.Kernel[1];
        int rows = ci * kh, cols = co * kw, n = ci * kh * kw;
        var w = subject.Values;
        var m = new float[rows * cols];
        for (var o = 0; o < co; o++)
        {
            for (var j = 0; j < rows; j++)
            {
                for (var x = 0; x < kw; x++)
                {
                    m[j * cols + o * kw + x] = w[(o * rows + j) * kw + x];
                }
            }
        }

        // Surrogate: the error of each kernel column x weighted by the covariance of the vertical patches it reads; exact
        // when patches at different horizontal offsets are uncorrelated. ‖S_vᵀ(M − M̂)‖ is minimized by the whitened SVD.
        var centered = Gram(subject, statistics);
        var vertical = PatchLeastSquares.AverageOverBlocks(centered, rows, kw, 1, blockOuter: true);
        var whitening = Whitening(vertical, rows, subject);
        var smaller = Math.Min(rows, cols);
        var needed = requireSavings ? Math.Clamp(target.Policy.RequiredSingularValues(rows, cols), 1, smaller) : smaller;
        var svd = WhitenedSvd.Compute(m, rows, cols, WeightLayout.InByOut, whitening, needed, subject.Context.Options.Svd, ct);
        var choice = Choose(subject, target, svd.Spectrum, rows, cols);
        if (requireSavings && !choice.Saves)
        {
            reason = $"spatial-svd: {choice.Explanation}";
            return null;
        }

        var r = choice.Rank;
        if (r > svd.Rank)
        {
            svd = WhitenedSvd.Compute(m, rows, cols, WeightLayout.InByOut, whitening, r, subject.Context.Options.Svd, ct);
        }

        var (a, _) = svd.Factors(r);

        // First stage K[(t, x), (j, x)] = A[j, t]: the vertical conv's output t read at horizontal offset x.
        var first = new float[r * kw * n];
        for (var t = 0; t < r; t++)
        {
            for (var x = 0; x < kw; x++)
            {
                for (var j = 0; j < rows; j++)
                {
                    first[(t * kw + x) * n + j * kw + x] = a[j * r + t];
                }
            }
        }

        // The horizontal kernel H[o, t, 0, x] = M[o, (t, x)], exact least squares given the vertical factor.
        var horizontal = PatchLeastSquares.FitLast(w, co, n, first, r * kw, centered, out _);
        var approximation = Compose(horizontal, co, first, r * kw, n);
        var fit = Finish(subject, statistics, centered, approximation);
        var middle = g.OutputSpatial is not null && g.InputSpatial is not null ? g.OutputSpatial[0] * g.InputSpatial[1] : g.OutputPositions;
        var flops = FlopModel.Conv(r, (long)ci * kh, middle) + FlopModel.Conv(co, (long)r * kw, g.OutputPositions);
        reason = Text($"spatial-svd: rank {r} of {smaller} on the {rows}×{cols} reshaped kernel, data-aware ({Rows(statistics, whitening)}; {choice.Explanation} ",
            $"on the spectrum whitened by the vertical-patch covariance; horizontal factor refitted by least squares); output error {fit.OutputRelError:G3} on the calibration data, bias corrected.");
        var verticalKernel = new float[r * rows];
        for (var t = 0; t < r; t++)
        {
            for (var j = 0; j < rows; j++)
            {
                verticalKernel[t * rows + j] = a[j * r + t];
            }
        }

        return new ConvCandidate("spatial-svd", r, [r], choice.BreakEvenRank, (long)r * (rows + cols), flops, fit.WeightRelError, svd.Spectrum.S, reason,
            () => approximation, s =>
            {
                bool[] height = [true, false], widthAxis = [false, true];
                var v = s.Conv(s.Node.Inputs[0]!, s.Initializer("_ssvd_v", s.Dims(r, ci, height), verticalKernel), null, "_ssvd", g.Attributes(height));
                return Last(s, v.Outputs[0], s.Initializer("_ssvd_h", s.Dims(co, r, widthAxis), horizontal), fit.Shift, "_ssvd_out", g.Attributes(widthAxis));
            }, "whiten", fit.OutputRelError);
    }

    /// <summary>tucker2 fitted to the data: 1×1 conv C_in→r_in (P ᵀ), k×k core r_in→r_out, 1×1 conv r_out→C_out with the
    /// corrected bias.</summary>
    public static ConvCandidate? Tucker2(ConvSubject subject, GramAccumulator statistics, RankTarget target, bool requireSavings, out string reason)
    {
        var g = subject.Geometry;
        var ct = subject.Context.CancellationToken;
        int co = g.OutChannels, ci = g.InPerGroup, k = g.KernelSize, n = ci * k;
        var w = subject.Values;
        var centered = Gram(subject, statistics);

        // Input side: the channel covariance (the patch covariance averaged over the kernel's taps) whitens the mode-in
        // unfolding W_(in) (C_in × C_out·k); its leading left singular vectors, unwhitened, span what the first conv keeps.
        var channels = PatchLeastSquares.AverageOverBlocks(centered, ci, k, 1, blockOuter: true);
        var whitening = Whitening(channels, ci, subject);
        var sc = whitening.S;
        var t = new double[ci * co * k];
        for (var aIndex = 0; aIndex < ci; aIndex++)
        {
            for (var i = 0; i < ci; i++)
            {
                var sia = sc[i * ci + aIndex];
                if (sia == 0)
                {
                    continue;
                }

                for (var o = 0; o < co; o++)
                {
                    for (var q = 0; q < k; q++)
                    {
                        t[aIndex * co * k + o * k + q] += sia * w[(o * ci + i) * k + q];
                    }
                }
            }
        }

        var modeIn = new double[ci * ci];
        for (var a1 = 0; a1 < ci; a1++)
        {
            for (var a2 = 0; a2 <= a1; a2++)
            {
                var v = MatrixOps.Dot(t.AsSpan(a1 * co * k, co * k), t.AsSpan(a2 * co * k, co * k));
                modeIn[a1 * ci + a2] = v;
                modeIn[a2 * ci + a1] = v;
            }
        }

        var (inValues, inVectors) = SymmetricEigen.Decompose(modeIn, ci, ct);
        var sIn = Array.ConvertAll(inValues, v => Math.Sqrt(Math.Max(v, 0)));

        // Output side: the response covariance W C Wᵀ; its eigenvalues are the output-space spectrum of the mode-out unfolding.
        var outValues = SymmetricEigen.Values(PatchLeastSquares.OutputCovariance(w, co, n, centered), co, ct);
        var sOut = Array.ConvertAll(outValues, v => Math.Sqrt(Math.Max(v, 0)));
        var pIn = g.InputSpatial is not null ? g.InputPositions : g.OutputPositions;
        var pOut = g.OutputPositions;
        long Params(long rIn, long rOut) => ci * rIn + rOut * rIn * k + rOut * co;
        long Flops(long rIn, long rOut) => FlopModel.Conv(rIn, ci, pIn) + FlopModel.Conv(rOut, rIn * k, pOut) + FlopModel.Conv(co, rOut, pOut);
        var (rankIn, rankOut, how) = ConvTucker2Pass.ChooseRanks(subject, target, sOut, sOut.Sum(v => v * v), sIn, sIn.Sum(v => v * v), Flops);
        var breakEven = 0;
        while (Params(breakEven + 1, breakEven + 1) < subject.ParamsBefore && breakEven < Math.Min(co, ci))
        {
            breakEven++;
        }

        var paramsAfter = Params(rankIn, rankOut);
        if (requireSavings && paramsAfter >= subject.ParamsBefore)
        {
            reason = $"tucker2: ranks [r_in {rankIn}, r_out {rankOut}] ({how}, output-space spectra) hold {paramsAfter} parameters, not fewer than {subject.ParamsBefore} (equal-rank break-even {breakEven})";
            return null;
        }

        // P = S_c⁻ᵀ P′ (C_in × r_in): the first conv reads z = Pᵀx = P′ᵀ·(S_c⁻¹x), the whitened channels' leading directions.
        var sInverse = whitening.SInverse;
        var p = new float[ci * rankIn];
        for (var i = 0; i < ci; i++)
        {
            for (var r = 0; r < rankIn; r++)
            {
                var sum = 0.0;
                for (var aIndex = 0; aIndex < ci; aIndex++)
                {
                    sum += sInverse[aIndex * ci + i] * inVectors[r * ci + aIndex];
                }

                p[i * rankIn + r] = (float)sum;
            }
        }

        // First stage K = Pᵀ ⊗ I_k: row (r, q) reads channel i at tap q with weight P[i, r].
        var m = rankIn * k;
        var first = new float[m * n];
        for (var r = 0; r < rankIn; r++)
        {
            for (var q = 0; q < k; q++)
            {
                for (var i = 0; i < ci; i++)
                {
                    first[(r * k + q) * n + i * k + q] = p[i * rankIn + r];
                }
            }
        }

        // Given P, the best (core, U_out) is reduced-rank regression: the least-squares M (C_out × r_in·k), then its
        // truncation to rank r_out in the metric of the projected patches' Gram Z Zᵀ (whitened SVD, Eckart–Young).
        var fitted = PatchLeastSquares.FitLast(w, co, n, first, m, centered, out var zz);
        rankOut = Math.Min(rankOut, Math.Min(co, m));
        var projected = InputWhitening.FromGram(zz, m, new WhiteningOptions { MaxDegreeOfParallelism = subject.Context.Options.Svd.MaxDegreeOfParallelism }, ct);
        var reduced = WhitenedSvd.Compute(fitted, co, m, WeightLayout.OutByIn, projected, rankOut, subject.Context.Options.Svd, ct);
        var (uOut, core) = reduced.Factors(rankOut);
        var product = new float[co * m];
        MatrixOps.Gemm(uOut, co, rankOut, core, m, product);
        var approximation = Compose(product, co, first, m, n);
        var fit = Finish(subject, statistics, centered, approximation);
        reason = Text($"tucker2: ranks [r_in {rankIn}, r_out {rankOut}] of [{ci}, {co}] by {how}, data-aware ({Rows(statistics, whitening)}; U_in from the channel-whitened ",
            $"input unfolding, core and U_out by reduced-rank regression on the calibration patches); output error {fit.OutputRelError:G3} on the calibration data, bias corrected.");
        var pT = new float[rankIn * ci];
        MatrixOps.Transpose(p, ci, rankIn, pT);
        return new ConvCandidate("tucker2", rankOut, [rankIn, rankOut], breakEven, paramsAfter, Flops(rankIn, rankOut), fit.WeightRelError, sOut, reason, () => approximation, s =>
        {
            var input = s.Conv(s.Node.Inputs[0]!, s.Initializer("_tucker_in", s.Dims(rankIn, ci, g.NoAxes), pT), null, "_tucker_in", g.Attributes(g.NoAxes));
            var middle = s.Conv(input.Outputs[0], s.Initializer("_tucker_core", s.Dims(rankOut, rankIn, g.AllAxes), core), null, "_tucker_core", g.Attributes(g.AllAxes));
            return Last(s, middle.Outputs[0], s.Initializer("_tucker_out", s.Dims(co, rankOut, g.NoAxes), uOut), fit.Shift, "_tucker_out", g.Attributes(g.NoAxes));
        }, "whiten", fit.OutputRelError);
    }

    /// <summary>depthwise fitted to the data: depthwise conv with r filters per input channel, then the 1×1 conv C_in·r→C_out
    /// refitted by least squares, with the corrected bias.</summary>
    public static ConvCandidate? Depthwise(ConvSubject subject, GramAccumulator statistics, RankTarget target, bool requireSavings, out string reason)
    {
        var g = subject.Geometry;
        var ct = subject.Context.CancellationToken;
        int co = g.OutChannels, ci = g.InPerGroup, k = g.KernelSize, n = ci * k;
        var full = Math.Min(co, k);
        var centered = Gram(subject, statistics);

        // Surrogate: each channel's filters weighted by its own patch covariance (the k×k diagonal block); exact when
        // different channels' patches are uncorrelated. One rank for all channels, so the spectra add (as in the plain rule).
        var svds = new WhitenedSvdResult[ci];
        var slice = new float[co * k];
        var aggregate = new double[full];
        var total = 0.0;
        var unseen = 0;
        for (var i = 0; i < ci; i++)
        {
            ct.ThrowIfCancellationRequested();
            for (var o = 0; o < co; o++)
            {
                Array.Copy(subject.Values, (o * ci + i) * k, slice, o * k, k);
            }

            var block = PatchLeastSquares.Block(centered, n, i * k, k);
            if (!block.Any(v => v != 0))
            {
                // A channel constant on the data: its filters cannot be weighted by it; fall back to the plain metric.
                unseen++;
                block = new double[k * k];
                for (var q = 0; q < k; q++)
                {
                    block[q * k + q] = 1;
                }
            }

            svds[i] = WhitenedSvd.Compute(slice, co, k, WeightLayout.OutByIn, Whitening(block, k, subject), full, subject.Context.Options.Svd, ct);
            total += svds[i].Spectrum.FrobeniusNormSquared;
            for (var q = 0; q < Math.Min(full, svds[i].Rank); q++)
            {
                aggregate[q] += svds[i].Spectrum.S[q] * svds[i].Spectrum.S[q];
            }
        }

        var spectrum = Array.ConvertAll(aggregate, Math.Sqrt);
        var choice = RankSelection.Choose(target.Policy, spectrum, total, co, k, subject.Context.Options.RankMultiple);
        var r = Math.Clamp(choice.Rank, 1, full);
        if (requireSavings && !choice.Saves)
        {
            reason = $"depthwise: {choice.Explanation}";
            return null;
        }

        var depthwise = new float[ci * r * k];
        var first = new float[ci * r * n];
        for (var i = 0; i < ci; i++)
        {
            var (_, d) = svds[i].Factors(r);
            Array.Copy(d, 0, depthwise, i * r * k, r * k);
            for (var t = 0; t < r; t++)
            {
                Array.Copy(d, t * k, first, (i * r + t) * n + i * k, k);
            }
        }

        var pointwise = PatchLeastSquares.FitLast(subject.Values, co, n, first, ci * r, centered, out _);
        var approximation = Compose(pointwise, co, first, ci * r, n);
        var fit = Finish(subject, statistics, centered, approximation);
        var positions = g.OutputPositions;
        var flops = FlopModel.Conv((long)ci * r, k, positions) + FlopModel.Conv(co, (long)ci * r, positions);
        var dead = unseen > 0 ? $", {unseen} constant channel(s) weighted plainly" : "";
        reason = Text($"depthwise: {r} filter(s) per input channel of {full}, data-aware ({statistics.Count} calibration patches{dead}; {choice.Explanation} on the ",
            $"per-channel whitened spectra; pointwise conv refitted by least squares); output error {fit.OutputRelError:G3} on the calibration data, bias corrected.");
        return new ConvCandidate("depthwise", r, [r], choice.BreakEvenRank, (long)ci * r * k + (long)co * ci * r, flops, fit.WeightRelError, spectrum, reason,
            () => approximation, s =>
            {
                var dw = s.Conv(s.Node.Inputs[0]!, s.Initializer("_dw", s.Dims(ci * r, 1, g.AllAxes), depthwise), null, "_dw", g.Attributes(g.AllAxes, group: ci));
                return Last(s, dw.Outputs[0], s.Initializer("_pw", s.Dims(co, ci * r, g.NoAxes), pointwise), fit.Shift, "_pw_out", g.Attributes(g.NoAxes));
            }, "whiten", fit.OutputRelError);
    }

    /// <summary>The relative output error <paramref name="policy"/> gives the kernel as a C_out×(C_in·Πk)
    /// matrix whitened by its patch covariance: auto holds every data-aware method to this output error.</summary>
    public static double AutoOutputError(ConvSubject subject, GramAccumulator statistics, RankPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(subject);
        var g = subject.Geometry;
        int rows = g.OutChannels, cols = g.InPerGroup * g.KernelSize;
        var needed = Math.Clamp(policy.RequiredSingularValues(rows, cols), 1, Math.Min(rows, cols));
        var svd = WhitenedSvd.Compute(subject.Values, rows, cols, WeightLayout.OutByIn, subject.Context.WhiteningOf(statistics), needed, subject.Context.Options.Svd,
            subject.Context.CancellationToken);
        var rank = Math.Clamp(policy.SelectRank(svd.Spectrum.S, svd.Spectrum.FrobeniusNormSquared, rows, cols), 1, svd.Rank);
        return svd.PredictedRelativeOutputError(rank);
    }

    private sealed record Fit(double WeightRelError, double OutputRelError, float[] Shift);

    // Errors of Ŵ (stored [C_out, C_in, k…] order = C_out × n) and the bias correction (W − Ŵ)·μ.
    private static Fit Finish(ConvSubject subject, GramAccumulator statistics, double[] centered, float[] approximation)
    {
        var co = subject.Geometry.OutChannels;
        var n = statistics.Dimension;
        var w = subject.Values;
        var delta = subject.Context.CorrectBias ? BiasCorrection.Delta(w, approximation, co, n, WeightLayout.OutByIn, statistics.Mean()) : new double[co];
        return new Fit(MatrixOps.RelativeError(w, approximation), PatchLeastSquares.RelativeOutputError(w, approximation, co, n, centered),
            Array.ConvertAll(delta, v => (float)v));
    }

    // The centered patch Gram; uncentered when the bias stays as it is (the budget planner measures Ŵ alone, PassContext.CorrectBias),
    // so that Ŵ alone minimizes the output error on the calibration data.
    private static double[] Gram(ConvSubject subject, GramAccumulator statistics) =>
        subject.Context.CorrectBias ? statistics.CenteredGram() : statistics.Gram();

    // Ŵ = M·K (outputs×n).
    private static float[] Compose(float[] last, int outputs, float[] first, int m, int n)
    {
        var result = new float[outputs * n];
        MatrixOps.Gemm(last, outputs, m, first, n, result);
        return result;
    }

    // The chain's last conv, with the bias correction folded into its (constant) bias or added after it.
    private static Node Last(ConvSubject s, Value input, Value weight, float[] shift, string suffix, IEnumerable<AttributeProto> attributes)
    {
        if (!shift.Any(v => v != 0))
        {
            return s.Conv(input, weight, s.Bias, suffix, attributes);
        }

        if (WhitenedMatrixPlan.FoldIntoBias(s.Context, s.Bias, shift, 1f, channelFirst: true) is { } folded)
        {
            return s.Conv(input, weight, s.Initializer("_bias", folded.Dims, folded.Values), suffix, attributes);
        }

        var last = s.Conv(input, weight, s.Bias, suffix, attributes);
        return WhitenedMatrixPlan.AddShift(s, last.Outputs[0], shift, [shift.Length, 1, 1]);
    }

    private static InputWhitening Whitening(double[] gram, int dimension, ConvSubject subject) =>
        InputWhitening.FromGram(gram, dimension, new WhiteningOptions { MaxDegreeOfParallelism = subject.Context.Options.Svd.MaxDegreeOfParallelism },
            subject.Context.CancellationToken);

    private static RankChoice Choose(ConvSubject subject, RankTarget target, SvdResult spectrum, int rows, int cols)
    {
        var choice = RankSelection.Choose(target.Policy, spectrum.S, spectrum.FrobeniusNormSquared, rows, cols, subject.Context.Options.RankMultiple);
        return choice with { Rank = Math.Clamp(choice.Rank, 1, Math.Min(rows, cols)) };
    }

    private static string Rows(GramAccumulator statistics, InputWhitening whitening) =>
        $"{statistics.Count} calibration patches" + (whitening.IsExact ? "" : $", {whitening.LiftedDirections} of {whitening.Dimension} directions unseen");

    private static string Text(FormattableString head, FormattableString tail) => head.ToString(CultureInfo.InvariantCulture) + tail.ToString(CultureInfo.InvariantCulture);
}
