using BenchmarkDotNet.Attributes;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Runtime;

namespace OnnxFactorize.Benchmarks;

/// <summary>Randomized truncated SVD against the exact path and MathNet's managed SVD on a small weight-like matrix, with the
/// engine's products on ONNX Runtime (MLAS) or on the managed kernel.</summary>
[MemoryDiagnoser]
public class SvdBenchmarks
{
    private float[] _matrix = [];
    private MathNet.Numerics.LinearAlgebra.Matrix<float>? _mathNet;

    [Params(256)]
    public int Rows { get; set; }

    [Params(1024)]
    public int Cols { get; set; }

    [Params(32)]
    public int Rank { get; set; }

    [Params(false, true)]
    public bool ManagedGemm { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _matrix = TestMatrices.DecayingSpectrum(Rows, Cols, seed: 1);
        _mathNet = MathNet.Numerics.LinearAlgebra.Matrix<float>.Build.Dense(Rows, Cols, (i, j) => _matrix[i * Cols + j]);
    }

    [Benchmark(Baseline = true)]
    public double MathNetSvd() => _mathNet!.Svd(computeVectors: true).S[Rank - 1];

    [Benchmark]
    public double Exact()
    {
        using var backend = Backend();
        return TruncatedSvd.ComputeExact(_matrix, Rows, Cols).S[Rank - 1];
    }

    [Benchmark]
    public double Randomized()
    {
        using var backend = Backend();
        return TruncatedSvd.Compute(_matrix, Rows, Cols, Rank).S[Rank - 1];
    }

    private IDisposable Backend() => OrtGemm.Force(ManagedGemm ? OrtGemm.Backend.Managed : OrtGemm.Backend.Default);
}
