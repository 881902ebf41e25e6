using System.Diagnostics;
using System.Text.Json;
using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Benchmarks;

/// <summary>`svd-compare [dir] [repeats] [power-iterations] [seed]`: factors the matrices listed in dir/manifest.json (written by
/// tools/svd-compare/compare.py) and prints one JSON object per matrix with time and Frobenius error.</summary>
internal static class SvdCompare
{
    public static int Run(string[] args)
    {
        var dir = args.Length > 0 ? args[0] : "/tmp/svd-compare";
        var repeats = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;
        var options = new SvdOptions
        {
            PowerIterations = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : -1,
            Seed = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 0,
        };
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var results = new List<Dictionary<string, object>>();
        foreach (var entry in manifest.RootElement.EnumerateArray())
        {
            var name = entry.GetProperty("name").GetString()!;
            var rows = entry.GetProperty("rows").GetInt32();
            var cols = entry.GetProperty("cols").GetInt32();
            var rank = entry.GetProperty("rank").GetInt32();
            var bytes = File.ReadAllBytes(Path.Combine(dir, name + ".f32"));
            var a = new float[rows * cols];
            Buffer.BlockCopy(bytes, 0, a, 0, bytes.Length);

            // Warm-up (JIT, thread pool), then the best of `repeats` timed runs, as the Python side does.
            var result = TruncatedSvd.Compute(a, rows, cols, rank, options);
            var best = double.MaxValue;
            for (var r = 0; r < repeats; r++)
            {
                var sw = Stopwatch.StartNew();
                result = TruncatedSvd.Compute(a, rows, cols, rank, options);
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }

            results.Add(new Dictionary<string, object>
            {
                ["name"] = name,
                ["seconds"] = best,
                ["error"] = ResidualNorm(a, rows, cols, result),
            });
        }

        Console.WriteLine(JsonSerializer.Serialize(results));
        return 0;
    }

    /// <summary>‖A − U diag(S) Vt‖_F, accumulated in double.</summary>
    public static double ResidualNorm(float[] a, int rows, int cols, SvdResult svd)
    {
        var k = svd.Rank;
        var us = new float[rows * k];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < k; j++)
            {
                us[i * k + j] = (float)(svd.U[i * k + j] * svd.S[j]);
            }
        }

        var approx = new float[rows * cols];
        MatrixOps.Gemm(us, rows, k, svd.Vt, cols, approx);
        var sum = 0.0;
        for (var i = 0; i < approx.Length; i++)
        {
            var d = (double)a[i] - approx[i];
            sum += d * d;
        }

        return Math.Sqrt(sum);
    }
}
