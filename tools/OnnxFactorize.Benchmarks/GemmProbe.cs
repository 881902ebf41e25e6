using System.Diagnostics;
using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Benchmarks;

/// <summary>Quick GFLOP/s probe of MatrixOps.Gemm: `gemm [m k n]...`.</summary>
internal static class GemmProbe
{
    public static int Run(string[] args)
    {
        int[][] shapes = args.Length >= 3
            ? [[int.Parse(args[0]), int.Parse(args[1]), int.Parse(args[2])]]
            : [[4096, 4096, 4096], [4096, 4096, 266], [266, 4096, 266], [768, 3072, 74], [1024, 1024, 1024]];
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
                MatrixOps.Gemm(a, m, k, b, n, c, ta, tb);
                var reps = Math.Max(1, (int)(2e10 / (2.0 * m * n * k)));
                var sw = Stopwatch.StartNew();
                for (var r = 0; r < reps; r++)
                {
                    MatrixOps.Gemm(a, m, k, b, n, c, ta, tb);
                }

                var sec = sw.Elapsed.TotalSeconds / reps;
                Console.WriteLine($"{m}x{k}x{n} transA={ta} transB={tb}: {sec * 1e3:F1} ms, {2.0 * m * n * k / sec / 1e9:F1} GFLOP/s");
            }
        }

        return 0;
    }
}
