using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Planning;

/// <summary>One node, isolated in a one-node model, before and after factorization at one rank, with its real inputs.</summary>
/// <param name="NodeName">Node label.</param>
/// <param name="Rank">Rank of the factorization.</param>
/// <param name="Original">The isolated original node (model bytes).</param>
/// <param name="Factorized">The isolated factorized chain (model bytes).</param>
/// <param name="Inputs">Inputs of both models, at the shapes the node sees in the full model.</param>
public sealed record NodeLatencyProbe(string NodeName, int Rank, byte[] Original, byte[] Factorized, IReadOnlyList<TensorData> Inputs);

/// <summary>Median latencies of the original node and its factorized chain, and their ratio (&gt; 1: the chain is faster).</summary>
public sealed record NodeTiming(double OriginalMs, double FactorizedMs, double Speedup);

/// <summary>Measures node latency; the default times both models in ONNX Runtime, tests inject a deterministic one.</summary>
public interface INodeLatencyMeter
{
    /// <summary>Times the original node against its factorized chain.</summary>
    NodeTiming Measure(NodeLatencyProbe probe, LatencyOptions options, CancellationToken cancellationToken);
}

/// <summary>Times both isolated models in ONNX Runtime, interleaved A B A B … after warm-up, with identical session options.</summary>
public sealed class OrtNodeLatencyMeter : INodeLatencyMeter
{
    /// <inheritdoc/>
    public NodeTiming Measure(NodeLatencyProbe probe, LatencyOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(options);
        cancellationToken.ThrowIfCancellationRequested();
        using var sessionOptions = ModelValidator.CreateSessionOptions(options);
        using var original = ProbeModels.Open(probe.Original, sessionOptions, $"node '{probe.NodeName}'");
        using var factorized = ProbeModels.Open(probe.Factorized, sessionOptions, $"node '{probe.NodeName}' at rank {probe.Rank}");
        var names = probe.Inputs.Select(t => t.Name).ToList();
        var values = probe.Inputs.Select(t => t.ToOrtValue()).ToList();
        using var runOptions = new RunOptions();
        try
        {
            void RunOnce(InferenceSession s)
            {
                using var outputs = s.Run(runOptions, names, values, s.OutputNames);
            }

            var result = LatencyBenchmark.Measure(() => RunOnce(original), () => RunOnce(factorized), options);
            return new NodeTiming(result.Original.MedianMs, result.Optimized.MedianMs, result.Speedup);
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }
}
