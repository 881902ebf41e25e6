namespace OnnxFactorize.Decomposition;

/// <summary>Settings of the randomized truncated SVD (Halko, Martinsson &amp; Tropp 2011); immutable, validated on init.</summary>
public sealed record SvdOptions
{
    private readonly int _oversamples = 10;
    private readonly int _powerIterations = -1;
    private readonly int _maxDegreeOfParallelism = -1;

    /// <summary>Extra random directions beyond the rank (p in Halko et al.); ≥ 0, default 10.</summary>
    public int Oversamples
    {
        get => _oversamples;
        init => _oversamples = value >= 0 ? value : throw new OnnxFactorizeException($"Oversamples must be ≥ 0, got {value}.");
    }

    /// <summary>Power iterations q; -1 = automatic (stop when the captured energy stops improving), else ≥ 0.</summary>
    public int PowerIterations
    {
        get => _powerIterations;
        init => _powerIterations = value >= -1 ? value : throw new OnnxFactorizeException($"PowerIterations must be -1 (automatic) or ≥ 0, got {value}.");
    }

    /// <summary>Seed of the Gaussian test matrix; the same seed gives bitwise identical results.</summary>
    public int Seed { get; init; }

    /// <summary>Worker threads for the GEMM kernels; -1 = all cores, else ≥ 1.</summary>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        init => _maxDegreeOfParallelism = value == -1 || value >= 1 ? value : throw new OnnxFactorizeException($"MaxDegreeOfParallelism must be -1 (all cores) or ≥ 1, got {value}.");
    }
}
