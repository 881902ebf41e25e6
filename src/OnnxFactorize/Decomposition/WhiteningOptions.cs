namespace OnnxFactorize.Decomposition;

/// <summary>How an input Gram matrix G = Σ x xᵀ is turned into a whitening transform S with S Sᵀ ≈ G; immutable, validated on init.</summary>
internal sealed record WhiteningOptions
{
    private readonly double _relativeRidge;
    private readonly double _eigenFloor = 1e-10;
    private readonly int _maxDegreeOfParallelism = -1;

    /// <summary>Ridge δ added to every diagonal entry, as a fraction of the mean diagonal of G (δ = RelativeRidge·tr(G)/n);
    /// ≥ 0, default 0 (the whitening is then exact for a positive definite G).</summary>
    public double RelativeRidge
    {
        get => _relativeRidge;
        init => _relativeRidge = value >= 0 && double.IsFinite(value) ? value : throw new OnnxFactorizeException($"RelativeRidge must be a finite value ≥ 0, got {value}.");
    }

    /// <summary>Relative floor for rank-deficient Gram matrices, in (0, 1), default 1e-10: when a Cholesky pivot falls to
    /// EigenFloor·max(diag G) or below, G is eigen-decomposed instead and every eigenvalue is lifted to at least
    /// EigenFloor·λ_max.</summary>
    public double EigenFloor
    {
        get => _eigenFloor;
        init => _eigenFloor = value > 0 && value < 1 ? value : throw new OnnxFactorizeException($"EigenFloor must be in (0, 1), got {value}.");
    }

    /// <summary>Worker threads for the GEMM kernels; -1 = all cores, else ≥ 1.</summary>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        init => _maxDegreeOfParallelism = value == -1 || value >= 1 ? value : throw new OnnxFactorizeException($"MaxDegreeOfParallelism must be -1 (all cores) or ≥ 1, got {value}.");
    }
}
