using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Benchmarks;

/// <summary>`tucker-compare [dir] [repeats] [sweeps] [tolerance]`: Tucker-2 of the tensors listed in dir/manifest.json
/// (written by tools/tucker-compare/compare.py); writes each result's factors next to them (ours-NAME-{uout,uin,core}.f32)
/// and prints one JSON object per case with the best wall and CPU time and the sweeps run.</summary>
internal static class TuckerCompare
{
    public static int Run(string[] args)
    {
        var dir = args.Length > 0 ? args[0] : "/tmp/tucker-compare";
        var repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var options = new Tucker2Options
        {
            MaxIterations = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10,
            Tolerance = args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 1e-7,
        };
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        var results = new List<Dictionary<string, object>>();
        foreach (var entry in manifest.RootElement.EnumerateArray())
        {
            var name = entry.GetProperty("name").GetString()!;
            var outDim = entry.GetProperty("out").GetInt32();
            var inDim = entry.GetProperty("in").GetInt32();
            var spatial = entry.GetProperty("spatial").GetInt32();
            var rankOut = entry.GetProperty("rankOut").GetInt32();
            var rankIn = entry.GetProperty("rankIn").GetInt32();
            var w = Read(Path.Combine(dir, entry.GetProperty("file").GetString()! + ".f32"), outDim * inDim * spatial);

            // Warm-up (JIT, thread pool, ONNX Runtime sessions), then the best of `repeats` timed runs, as the Python side does.
            var result = Tucker2.Decompose(w, outDim, inDim, spatial, rankOut, rankIn, options);
            // CPU time (all threads) next to wall time: on a shared machine it is the steadier measure of work.
            var best = double.MaxValue;
            var bestCpu = double.MaxValue;
            using var process = Process.GetCurrentProcess();
            for (var r = 0; r < repeats; r++)
            {
                process.Refresh();
                var cpu = process.TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                result = Tucker2.Decompose(w, outDim, inDim, spatial, rankOut, rankIn, options);
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
                process.Refresh();
                bestCpu = Math.Min(bestCpu, (process.TotalProcessorTime - cpu).TotalSeconds);
            }

            Write(Path.Combine(dir, $"ours-{name}-uout.f32"), result.UOut);
            Write(Path.Combine(dir, $"ours-{name}-uin.f32"), result.UIn);
            Write(Path.Combine(dir, $"ours-{name}-core.f32"), result.Core);
            results.Add(new Dictionary<string, object> { ["name"] = name, ["seconds"] = best, ["cpu"] = bestCpu, ["sweeps"] = result.Iterations });
        }

        Console.WriteLine(JsonSerializer.Serialize(results));
        return 0;
    }

    private static float[] Read(string path, int count)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != count * sizeof(float))
        {
            throw new InvalidDataException($"{path} holds {bytes.Length} bytes, expected {count * sizeof(float)}: regenerate with compare.py gen.");
        }

        var values = new float[count];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }

    private static void Write(string path, float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(path, bytes);
    }
}
