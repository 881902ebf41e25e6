namespace OnnxFactorize.Decomposition;

/// <summary>Settings of the Tucker-2 decomposition (HOSVD, then HOOI sweeps); immutable, validated on init.</summary>
public sealed record Tucker2Options
{
    private readonly int _maxIterations = 25;
    private readonly double _tolerance = 1e-7;
    private readonly int _maxDegreeOfParallelism = -1;

    /// <summary>Most HOOI sweeps after the HOSVD; ≥ 0, default 25 (0 = HOSVD only).</summary>
    public int MaxIterations
    {
        get => _maxIterations;
        init => _maxIterations = value >= 0 ? value : throw new OnnxFactorizeException($"Tucker2Options.MaxIterations must be ≥ 0, got {value}.");
    }

    /// <summary>HOOI stops when a sweep lowers the relative error by less than this; ≥ 0, default 1e-7.</summary>
    public double Tolerance
    {
        get => _tolerance;
        init => _tolerance = value >= 0 && double.IsFinite(value) ? value : throw new OnnxFactorizeException($"Tucker2Options.Tolerance must be a finite number ≥ 0, got {value}.");
    }

    /// <summary>Seed of the random start of the HOSVD subspace iteration; the same seed gives bitwise identical results.</summary>
    public int Seed { get; init; }

    /// <summary>Worker threads for the GEMM kernels; -1 = all cores, else ≥ 1. The result does not depend on it.</summary>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        init => _maxDegreeOfParallelism = value == -1 || value >= 1 ? value : throw new OnnxFactorizeException($"Tucker2Options.MaxDegreeOfParallelism must be -1 (all cores) or ≥ 1, got {value}.");
    }
}
