using System.Diagnostics;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Runtime;

namespace OnnxFactorize.Benchmarks;

/// <summary>GFLOP/s probe of the engine's products, ONNX Runtime (MLAS) and managed backend alternately: `gemm [m k n]...`.</summary>
internal static class GemmProbe
{
    public static int Run(string[] args)
    {
        int[][] shapes = args.Length >= 3
            ? [[int.Parse(args[0]), int.Parse(args[1]), int.Parse(args[2])]]
            : [[4096, 4096, 4096], [4096, 4096, 266], [266, 4096, 266], [768, 3072, 74], [3072, 768, 74], [512, 4608, 138], [1024, 1024, 1024]];
        var rng = new Random(1);
        foreach (var s in shapes)
        {
            var (m, k, n) = (s[0], s[1], s[2]);
            var a = new float[m * k];
            var b = new float[k * n];
            var c = new float[m * n];
            for (var i = 0; i < a.Length; i++)
            {
                a[i] = (float)rng.NextDouble();
            }

            for (var i = 0; i < b.Length; i++)
            {
                b[i] = (float)rng.NextDouble();
            }

            foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true) })
            {
                // Best of three rounds per backend, the backends alternating, so a busy moment hits both alike.
                var best = new[] { double.MaxValue, double.MaxValue };
                var reps = Math.Max(1, (int)(4e9 / (2.0 * m * n * k)));
                for (var round = 0; round < 3; round++)
                {
                    for (var backend = 0; backend < 2; backend++)
                    {
                        using var scope = OrtGemm.Force(backend == 1 ? OrtGemm.Backend.Managed : OrtGemm.Backend.Default);
                        MatrixOps.GemmCore(a, m, k, b, n, c, ta, tb, -1);
                        var sw = Stopwatch.StartNew();
                        for (var r = 0; r < reps; r++)
                        {
                            MatrixOps.GemmCore(a, m, k, b, n, c, ta, tb, -1);
                        }

                        best[backend] = Math.Min(best[backend], sw.Elapsed.TotalSeconds / reps);
                    }
                }

                var flops = 2.0 * m * n * k;
                Console.WriteLine($"{m}x{k}x{n} transA={ta,-5} transB={tb,-5}: ort {best[0] * 1e3,7:F2} ms {flops / best[0] / 1e9,6:F1} GFLOP/s | managed {best[1] * 1e3,7:F2} ms {flops / best[1] / 1e9,6:F1} GFLOP/s{(OrtGemm.Failure is null ? "" : $" (ONNX Runtime unavailable: {OrtGemm.Failure})")}");
            }
        }

        return 0;
    }
}
