using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;

namespace OnnxFactorize.Benchmarks;

/// <summary>ONNX Runtime latency of a 256→256 3×3 conv on [1, 256, 56, 56] (pads 1) before and after factorization:
/// Tucker-2 at r_in = r_out = 64 and depthwise-separable at 1 filter per channel (rank 1). FLOP ratios are printed at setup.</summary>
[MemoryDiagnoser(false)]
public class ConvBenchmarks
{
    private const int Channels = 256;
    private const int Size = 56;
    private InferenceSession? _original;
    private InferenceSession? _tucker;
    private InferenceSession? _depthwise;
    private OrtValue? _input;
    private string[] _inputNames = [];
    private string[] _outputNames = [];

    [GlobalSetup]
    public void Setup()
    {
        var model = Model();
        _original = Session(model);
        _tucker = Session(Factorize(model, "tucker2", RankPolicy.Fixed(64)));
        _depthwise = Session(Factorize(model, "depthwise", RankPolicy.Fixed(1)));
        var random = new Random(1);
        var x = Enumerable.Range(0, Channels * Size * Size).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        _input = OrtValue.CreateTensorValueFromMemory(x, [1, Channels, Size, Size]);
        _inputNames = ["X"];
        _outputNames = ["Y"];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _original?.Dispose();
        _tucker?.Dispose();
        _depthwise?.Dispose();
        _input?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public float Original() => Run(_original!);

    [Benchmark]
    public float Tucker2Rank64() => Run(_tucker!);

    [Benchmark]
    public float DepthwisePointwise() => Run(_depthwise!);

    private float Run(InferenceSession session)
    {
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, _inputNames, [_input!], _outputNames);
        return outputs[0].GetTensorDataAsSpan<float>()[0];
    }

    private static InferenceSession Session(OnnxModel model)
    {
        var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        return new InferenceSession(model.ToBytes(), options);
    }

    private static OnnxModel Factorize(OnnxModel model, string method, RankPolicy policy)
    {
        var result = Factorizer.Run(model, new FactorizeOptions { RankPolicy = policy, Methods = [method] });
        var d = result.Decisions.Single();
        if (d.Status != DecisionStatus.Factorized)
        {
            throw new InvalidOperationException($"{method}: {d.Reason}");
        }

        Console.WriteLine($"// {method} ranks [{string.Join(", ", d.Ranks)}]: FLOPs {d.FlopsBefore} → {d.FlopsAfter} (ratio {(double)d.FlopsBefore / d.FlopsAfter:F2}×), " +
            $"params {d.ParamsBefore} → {d.ParamsAfter}, weight error {d.WeightRelError:G3}");
        return result.Model;
    }

    private static OnnxModel Model()
    {
        var random = new Random(7);
        var weights = Enumerable.Range(0, Channels * Channels * 9).Select(_ => (float)((random.NextDouble() * 2 - 1) / 48)).ToArray();
        var graph = new GraphProto { Name = "conv" };
        graph.Input.Add(Info("X", [1, Channels, Size, Size]));
        graph.Output.Add(Info("Y", [1, Channels, Size, Size]));
        graph.Initializer.Add(TensorCodec.Create("W", [Channels, Channels, 3, 3], weights));
        graph.Initializer.Add(TensorCodec.Create("B", [Channels], new float[Channels]));
        var node = new NodeProto { OpType = "Conv", Name = "conv" };
        node.Input.AddRange(["X", "W", "B"]);
        node.Output.Add("Y");
        node.Attribute.Add(NodeAttributes.Ints("kernel_shape", [3, 3]));
        node.Attribute.Add(NodeAttributes.Ints("pads", [1, 1, 1, 1]));
        graph.Node.Add(node);
        var proto = new ModelProto { IrVersion = 8, ProducerName = "OnnxFactorize.Benchmarks", Graph = graph };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return OnnxModel.FromProto(OnnxModel.Parse(proto.ToByteArray(), "conv-benchmark"), "conv-benchmark");
    }

    private static ValueInfoProto Info(string name, long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }
}
