using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Support;

namespace OnnxFactorize.Tests.Passes;

/// <summary>Seeded weights and the before/after ONNX Runtime check every pass test uses.</summary>
internal static class PassTestKit
{
    /// <summary>A rows×cols matrix of exact rank <paramref name="rank"/> (product of two Gaussian factors).</summary>
    public static float[] LowRank(int rows, int cols, int rank, int seed)
    {
        var u = Gaussian(rows * rank, seed);
        var v = Gaussian(rank * cols, seed + 1);
        var w = new float[rows * cols];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                double sum = 0;
                for (var r = 0; r < rank; r++)
                {
                    sum += u[(i * rank) + r] * v[(r * cols) + j];
                }

                w[(i * cols) + j] = (float)(sum / Math.Sqrt(rank));
            }
        }

        return w;
    }

    /// <summary>Gaussian values (Box–Muller over a seeded generator).</summary>
    public static float[] Gaussian(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            var u1 = 1.0 - random.NextDouble();
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        return values;
    }

    /// <summary>Factorizes, runs both models on the same seeded inputs, and returns the result and the worst relative L2
    /// error over outputs.</summary>
    public static (FactorizationResult Result, double Error) FactorizeAndCompare(ModelProto model, FactorizeOptions options, int seed = 5)
    {
        var source = OnnxModel.FromProto(model);
        var result = Factorizer.Run(source, options);
        var before = OrtRunner.RunOnRandomInputs(source.ToBytes(), seed);
        var after = OrtRunner.RunOnRandomInputs(result.Model.ToBytes(), seed);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        var error = before.Keys.Max(k => OrtRunner.RelativeL2(before[k], after[k]));
        return (result, error);
    }
}
