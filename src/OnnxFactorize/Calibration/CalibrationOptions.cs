namespace OnnxFactorize.Calibration;

/// <summary>How calibration statistics are collected; immutable, validated on init.</summary>
internal sealed record CalibrationOptions
{
    private readonly int _batchSize;
    private readonly int _intraOpThreads = 1;

    /// <summary>Rows of axis 0 per ONNX Runtime run when the model's batch axis is dynamic: a sample holding more is split, so
    /// intermediate activations never exceed one batch. 0 = run each sample as it is.</summary>
    public int BatchSize
    {
        get => _batchSize;
        init => _batchSize = value >= 0 ? value : throw new OnnxFactorizeException($"calibration batch size must be ≥ 0 (0 = whole samples), got {value}.");
    }

    /// <summary>ONNX Runtime intra-op threads (0 = all cores), default 1.</summary>
    public int IntraOpThreads
    {
        get => _intraOpThreads;
        init => _intraOpThreads = value >= 0 ? value : throw new OnnxFactorizeException($"calibration IntraOpThreads must be ≥ 0 (0 = all cores), got {value}.");
    }

    /// <summary>Folder of cached statistics (calib-*.bin), or null for no disk cache.</summary>
    public string? CacheDirectory { get; init; }
}
