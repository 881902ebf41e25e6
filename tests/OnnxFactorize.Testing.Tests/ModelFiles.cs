using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Testing.Tests;

/// <summary>Writes a small classifier (Gemm, x[batch,32] → logits[batch,10]) and two variants: a lightly and a heavily perturbed copy.</summary>
public sealed class ModelFiles : IDisposable
{
    public ModelFiles()
    {
        Directory.CreateDirectory(Folder);
        Write(Original, 0);
        Write(SlightlyChanged, 0.001f);
        Write(Broken, 0.5f);
    }

    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "onnxf-testing-" + Guid.NewGuid().ToString("N")[..12]);

    public string Original => Path.Combine(Folder, "classifier.onnx");

    public string SlightlyChanged => Path.Combine(Folder, "classifier.factorized.onnx");

    public string Broken => Path.Combine(Folder, "classifier.broken.onnx");

    public void Dispose() => Directory.Delete(Folder, recursive: true);

    private static void Write(string path, float perturb)
    {
        const int K = 32, N = 10;
        var weights = new Random(1);
        var noise = new Random(2);
        var w = new TensorProto { Name = "w", DataType = 1 };
        w.Dims.AddRange([K, N]);
        w.FloatData.AddRange(Enumerable.Range(0, K * N).Select(_ => (float)(weights.NextDouble() - 0.5) + (perturb * (float)(noise.NextDouble() - 0.5))));
        var graph = new GraphProto { Name = "classifier" };
        graph.Initializer.Add(w);
        graph.Input.Add(Value("x", K));
        graph.Output.Add(Value("logits", N));
        var gemm = new NodeProto { Name = "fc", OpType = "Gemm" };
        gemm.Input.AddRange(["x", "w"]);
        gemm.Output.Add("logits");
        graph.Node.Add(gemm);
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 13 });
        File.WriteAllBytes(path, model.ToByteArray());
    }

    private static ValueInfoProto Value(string name, int width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }
}
