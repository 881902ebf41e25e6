using System.Diagnostics;
using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Benchmarks;

/// <summary>`tucker-profile n r cols`: CPU time (all threads, best of 5) of the pieces of a Tucker-2 sweep at one mode size:
/// Gram, G·U, CholQR, eigen-decomposition.</summary>
internal static class TuckerProfile
{
    public static int Run(string[] args)
    {
        var n = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
        var r = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
        var cols = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        var rng = new Random(1);
        var x = new float[n * cols];
        Orthonormalizer.FillGaussianParallel(x, rng, -1);
        double Time(Action a)
        {
            a();
            var best = double.MaxValue;
            for (var i = 0; i < 5; i++)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                a();
                best = Math.Min(best, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
            }

            return best;
        }

        var g = Tucker2Hooi.Gram(x, n, cols, -1);
        var gd = g.Select(v => (double)v).ToArray();
        var u = new float[n * r];
        Orthonormalizer.FillGaussianParallel(u, rng, -1);
        var p = new float[n * r];
        Console.WriteLine($"gram blocked {Time(() => Tucker2Hooi.Gram(x, n, cols, -1)):F1} ms");
        Console.WriteLine($"gram full    {Time(() => MatrixOps.GemmCore(x, n, cols, x, n, new float[n * n], false, true, -1)):F1} ms");
        Console.WriteLine($"G·U          {Time(() => MatrixOps.GemmCore(g, n, n, u, r, p, false, false, -1)):F1} ms");
        Console.WriteLine($"orth 1 pass  {Time(() => Orthonormalizer.Orthonormalize(p, n, r, rng, 1, -1)):F1} ms");
        var gr = new float[r * r];
        Console.WriteLine($"UᵀU gemm     {Time(() => MatrixOps.GemmCore(p, r, n, p, r, gr, true, false, -1)):F1} ms");
        Console.WriteLine($"tryfactor    {Time(() => Orthonormalizer.TryFactor(p, n, r, -1, new float[r * r], new double[r * r])):F1} ms");
        Console.WriteLine($"U·T gemm     {Time(() => MatrixOps.GemmCore(p, n, r, gr, r, new float[n * r], false, false, -1)):F1} ms");
        Console.WriteLine($"orth 3 pass  {Time(() => Orthonormalizer.Orthonormalize(p, n, r, rng, 3, -1)):F1} ms");
        Console.WriteLine($"eigen full   {Time(() => SymmetricEigen.Decompose(gd, n, default)):F1} ms");
        Console.WriteLine($"eigen values {Time(() => SymmetricEigen.Values(gd, n, default)):F1} ms");
        return 0;
    }
}
