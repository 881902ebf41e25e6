using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;
using static OnnxFactorize.Tests.Graph.GraphBuilder;

namespace OnnxFactorize.Tests.Planning;

/// <summary>A model with known per-layer sensitivities and a deterministic latency meter.</summary>
internal static class PlanningModels
{
    public const int Width = 64;

    /// <summary>y = (x·W1)·W2 + 30·(x·W3): all three weights have the same decaying spectrum, but the W3 branch dominates
    /// y, so an error in W3 costs ~30× more output error than the same error in W1 or W2.</summary>
    public static OnnxModel AmplifiedMlp()
    {
        var graph = new GraphProto { Name = "amplified" };
        graph.Input.Add(FloatInfo("x", 8, Width));
        graph.Output.Add(FloatInfo("y", 8, Width));
        graph.Initializer.Add(Tensor("W1", [Width, Width], Decaying(1)));
        graph.Initializer.Add(Tensor("W2", [Width, Width], Decaying(2)));
        graph.Initializer.Add(Tensor("W3", [Width, Width], Decaying(3)));
        graph.Initializer.Add(Tensor("gain", [], [30f]));
        graph.Node.Add(Node("MatMul", "l1", ["x", "W1"], ["h1"]));
        graph.Node.Add(Node("MatMul", "l2", ["h1", "W2"], ["h2"]));
        graph.Node.Add(Node("MatMul", "l3", ["x", "W3"], ["h3"]));
        graph.Node.Add(Node("Mul", "amp", ["h3", "gain"], ["h3s"]));
        graph.Node.Add(Node("Add", "sum", ["h2", "h3s"], ["y"]));
        return OnnxModel.FromProto(Model(graph));
    }

    /// <summary>y = x + x·W1 − x·W2 with W1 = W2: the branches cancel, so truncating both at similar ranks costs far less
    /// than either alone; the single-node errors in quadrature over-price the pair.</summary>
    public static OnnxModel CancellingBranches()
    {
        var graph = new GraphProto { Name = "cancelling" };
        graph.Input.Add(FloatInfo("x", 8, Width));
        graph.Output.Add(FloatInfo("y", 8, Width));
        graph.Initializer.Add(Tensor("W1", [Width, Width], Decaying(1)));
        graph.Initializer.Add(Tensor("W2", [Width, Width], Decaying(1)));
        graph.Node.Add(Node("MatMul", "b1", ["x", "W1"], ["h1"]));
        graph.Node.Add(Node("MatMul", "b2", ["x", "W2"], ["h2"]));
        graph.Node.Add(Node("Sub", "diff", ["h1", "h2"], ["d"]));
        graph.Node.Add(Node("Add", "sum", ["x", "d"], ["y"]));
        return OnnxModel.FromProto(Model(graph));
    }

    /// <summary>Σ_r σ_r u_r v_rᵀ with σ_r = exp(−r/6) and Gaussian u, v: a smoothly decaying spectrum.</summary>
    public static float[] Decaying(int seed)
    {
        var u = Passes.PassTestKit.Gaussian(Width * Width, seed * 10);
        var v = Passes.PassTestKit.Gaussian(Width * Width, (seed * 10) + 1);
        var w = new float[Width * Width];
        for (var i = 0; i < Width; i++)
        {
            for (var j = 0; j < Width; j++)
            {
                double sum = 0;
                for (var r = 0; r < Width; r++)
                {
                    sum += Math.Exp(-r / 6.0) * u[(i * Width) + r] * v[(r * Width) + j];
                }

                w[(i * Width) + j] = (float)(sum / Width);
            }
        }

        return w;
    }

    public static BudgetOptions Options(double maxError, string? cache = null) => new()
    {
        MaxError = maxError,
        CacheDirectory = cache,
        Inputs = new InputOptions { RandomSamples = 2, Seed = 3 },
    };
}

/// <summary>Deterministic latency: every factorization is twice as fast, except for the listed nodes, which are twice as slow.</summary>
internal sealed class FakeLatencyMeter(params string[] slowerNodes) : INodeLatencyMeter
{
    public int Calls { get; private set; }

    public NodeTiming Measure(NodeLatencyProbe probe, LatencyOptions options, CancellationToken cancellationToken)
    {
        Calls++;
        return slowerNodes.Contains(probe.NodeName) ? new NodeTiming(1.0, 2.0, 0.5) : new NodeTiming(1.0, 0.5, 2.0);
    }
}
