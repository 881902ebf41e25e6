namespace OnnxFactorize.Decomposition;

/// <summary>Rank estimate by empirical variational Bayesian matrix factorization (EVBMF; Nakajima, Sugiyama, Babacan &amp;
/// Tomioka 2013, "Global analytic solution of fully-observed variational Bayesian matrix factorization", Theorem 2 and the
/// noise-variance objective of their Section 4), as used by Kim et al. 2015 to pick Tucker-2 ranks. Works on a spectrum only.</summary>
internal static class Vbmf
{
    /// <summary>Estimated rank (always in [1, min(rows, cols)]) of a rows×cols matrix with the given singular values (descending;
    /// missing trailing values count as zero) and ‖Y‖_F² (energy not in the given values is treated as residual).</summary>
    public static int EstimateRank(ReadOnlySpan<double> singularValues, int rows, int cols, double frobeniusNormSquared)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);

        // The theory is stated for L ≤ M; the spectrum of Yᵀ is the same.
        var l = Math.Min(rows, cols);
        var m = Math.Max(rows, cols);
        var h = Math.Min(singularValues.Length, l);
        var s = new double[h];
        var kept = 0.0;
        for (var i = 0; i < h; i++)
        {
            var v = singularValues[i];
            s[i] = double.IsFinite(v) && v > 0 ? v : 0;
            kept += s[i] * s[i];
        }

        if (h == 0 || s[0] <= 0 || !double.IsFinite(frobeniusNormSquared))
        {
            return 1;
        }

        var residual = Math.Max(0, frobeniusNormSquared - kept);
        var alpha = (double)l / m;
        var tauBar = 2.5129 * Math.Sqrt(alpha);
        var xBar = (1 + tauBar) * (1 + alpha / tauBar);

        // Bounds of the noise variance σ² (Nakajima et al. 2013, Section 4): above, all energy is noise; below, at least the
        // values past the largest rank EVBMF can return are noise.
        var upper = (kept + residual) / ((double)l * m);
        var maxRank = Math.Clamp((int)Math.Ceiling(l / (1 + alpha)) - 1, 0, h - 1);
        var tailMean = 0.0;
        for (var i = maxRank; i < h; i++)
        {
            tailMean += s[i] * s[i];
        }

        tailMean = (tailMean + residual) / Math.Max(1, l - maxRank);
        var lower = Math.Max(s[maxRank] * s[maxRank] / (m * xBar), tailMean / m);
        if (!(lower > 0) || lower >= upper)
        {
            // A flat or nearly exact-rank spectrum: the interval collapses; search a band around the upper bound instead.
            lower = upper * 1e-6;
        }

        var sigma2 = MinimizeLog(v => Objective(v, l, m, s, residual, alpha, xBar), lower, upper);
        var threshold = Math.Sqrt(m * sigma2 * xBar);
        var rank = 0;
        while (rank < h && s[rank] > threshold)
        {
            rank++;
        }

        // Public implementations return 0 for spectra with no value above the threshold; a factorization needs at least one.
        return Math.Clamp(rank, 1, l);
    }

    // Negative free energy (up to constants) of EVBMF as a function of σ², with the analytic posterior of each component.
    private static double Objective(double sigma2, int l, int m, double[] s, double residual, double alpha, double xBar)
    {
        var total = 0.0;
        foreach (var value in s)
        {
            var x = value * value / (m * sigma2);
            if (x > xBar)
            {
                var t = Tau(x, alpha);
                total += x - t + Math.Log((t + 1) / x) + alpha * Math.Log(t / alpha + 1);
            }
            else
            {
                // log of an exactly zero singular value is clamped: its x − log x term only pushes σ² up, as it should.
                total += x - Math.Log(Math.Max(x, 1e-300));
            }
        }

        return total + residual / (m * sigma2) + (l - s.Length) * Math.Log(sigma2);
    }

    private static double Tau(double x, double alpha)
    {
        var b = x - (1 + alpha);
        return 0.5 * (b + Math.Sqrt(Math.Max(0, b * b - 4 * alpha)));
    }

    // Golden-section search over log σ² (the objective spans orders of magnitude), after a coarse scan so a local dip is
    // not missed.
    private static double MinimizeLog(Func<double, double> f, double lower, double upper)
    {
        var a = Math.Log(lower);
        var b = Math.Log(upper);
        const int Scan = 64;
        var best = a;
        var bestValue = double.PositiveInfinity;
        for (var i = 0; i <= Scan; i++)
        {
            var t = a + (b - a) * i / Scan;
            var v = f(Math.Exp(t));
            if (v < bestValue)
            {
                (best, bestValue) = (t, v);
            }
        }

        var step = (b - a) / Scan;
        var lo = Math.Max(a, best - step);
        var hi = Math.Min(b, best + step);
        var ratio = (Math.Sqrt(5) - 1) / 2;
        var c = hi - ratio * (hi - lo);
        var d = lo + ratio * (hi - lo);
        var fc = f(Math.Exp(c));
        var fd = f(Math.Exp(d));
        for (var i = 0; i < 60; i++)
        {
            if (fc < fd)
            {
                (hi, d, fd) = (d, c, fc);
                c = hi - ratio * (hi - lo);
                fc = f(Math.Exp(c));
            }
            else
            {
                (lo, c, fc) = (c, d, fd);
                d = lo + ratio * (hi - lo);
                fd = f(Math.Exp(d));
            }
        }

        var mid = (lo + hi) / 2;
        return f(Math.Exp(mid)) <= bestValue ? Math.Exp(mid) : Math.Exp(best);
    }
}
