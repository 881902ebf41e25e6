using BenchmarkDotNet.Attributes;
using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Benchmarks;

/// <summary>MatrixOps.Gemm on the shapes the randomized SVD issues for a 4096×4096 matrix at rank 256.</summary>
public class SvdGemmBenchmarks
{
    private float[] _a = [];
    private float[] _b = [];
    private float[] _c = [];

    [Params(1024, 4096)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _a = TestMatrices.Uniform(Size * Size, seed: 1);
        _b = TestMatrices.Uniform(Size * 266, seed: 2);
        _c = new float[Size * 266];
    }

    [Benchmark]
    public void SketchProduct() => MatrixOps.Gemm(_a, Size, Size, _b, 266, _c);

    [Benchmark]
    public void TransposedSketchProduct() => MatrixOps.Gemm(_a, Size, Size, _b, 266, _c, transA: true);
}
