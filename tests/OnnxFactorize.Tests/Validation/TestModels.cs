using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Tests.Validation;

/// <summary>Tiny seeded Gemm/MatMul/Conv models built with the generated proto classes.</summary>
public static class TestModels
{
    public static ModelProto Gemm(int k, int n, object batch, float perturb = 0, int seed = 1, bool declareOutputShape = true, bool transB = false)
    {
        var w = Weights(k * n, seed, perturb);
        var graph = new GraphProto { Name = "gemm" };
        graph.Input.Add(Value("x", declared: true, batch, k));
        graph.Output.Add(Value("y", declareOutputShape, batch, n));
        graph.Initializer.Add(Tensor("w", transB ? [n, k] : [k, n], w));
        graph.Initializer.Add(Tensor("b", [n], Weights(n, seed + 1, 0)));
        var node = new NodeProto { Name = "gemm0", OpType = "Gemm" };
        node.Input.AddRange(["x", "w", "b"]);
        node.Output.Add("y");
        if (transB)
        {
            node.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        }

        graph.Node.Add(node);
        return Model(graph);
    }

    public static ModelProto MatMul(int batch, int m, int k, int n, bool declareShapes = true)
    {
        var graph = new GraphProto { Name = "matmul" };
        graph.Input.Add(Value("x", true, batch, m, k));
        graph.Output.Add(Value("y", declareShapes, batch, m, n));
        graph.Initializer.Add(Tensor("w", [k, n], Weights(k * n, 3, 0)));
        var node = new NodeProto { Name = "mm", OpType = "MatMul" };
        node.Input.AddRange(["x", "w"]);
        node.Output.Add("y");
        graph.Node.Add(node);
        return Model(graph);
    }

    /// <summary>Conv (no padding, stride 1) followed by Relu; the Conv output has no declared shape.</summary>
    public static ModelProto Conv(int n, int cin, int h, int w, int cout, int kh, int kw, int group = 1)
    {
        var graph = new GraphProto { Name = "conv" };
        graph.Input.Add(Value("x", true, n, cin, h, w));
        graph.Output.Add(Value("y", false));
        graph.Initializer.Add(Tensor("w", [cout, cin / group, kh, kw], Weights(cout * cin / group * kh * kw, 5, 0)));
        var conv = new NodeProto { Name = "conv0", OpType = "Conv" };
        conv.Input.AddRange(["x", "w"]);
        conv.Output.Add("c");
        conv.Attribute.Add(new AttributeProto { Name = "group", Type = AttributeProto.Types.AttributeType.Int, I = group });
        var relu = new NodeProto { Name = "relu0", OpType = "Relu" };
        relu.Input.Add("c");
        relu.Output.Add("y");
        graph.Node.AddRange([conv, relu]);
        return Model(graph);
    }

    public static string Save(ModelProto model, string path)
    {
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static ModelProto Model(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "OnnxFactorize.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    private static float[] Weights(int count, int seed, float perturb)
    {
        var r = new Random(seed);
        var noise = new Random(seed + 1000);
        return [.. Enumerable.Range(0, count).Select(_ => (float)(r.NextDouble() - 0.5) + (perturb == 0 ? 0 : perturb * (float)(noise.NextDouble() - 0.5)))];
    }

    private static TensorProto Tensor(string name, long[] dims, float[] data)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(data);
        return t;
    }

    private static ValueInfoProto Value(string name, bool declared, params object[] dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float };
        if (declared)
        {
            tensor.Shape = new TensorShapeProto();
            foreach (var d in dims)
            {
                tensor.Shape.Dim.Add(d switch
                {
                    string s when s.Length == 0 => new TensorShapeProto.Types.Dimension(),
                    string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                    _ => new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) },
                });
            }
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}
