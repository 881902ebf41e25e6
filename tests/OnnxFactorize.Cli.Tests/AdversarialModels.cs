using Google.Protobuf;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Cli.Tests;

/// <summary>The adversarial-review corpus, generated in code: a small valid Gemm model and the broken variants of it that
/// once copied, hung or crashed (no binary blobs in the repository).</summary>
public static class AdversarialModels
{
    private const int Float = (int)TensorProto.Types.DataType.Float;

    /// <summary>X[1,16] → Gemm(W1[16,16], B1) → H → Gemm(W2[16,16], B2) → Y: two factorizable nodes.</summary>
    public static ModelProto Mlp()
    {
        var graph = new GraphProto { Name = "mlp" };
        graph.Input.Add(Info("X", Float, 1, 16));
        graph.Output.Add(Info("Y", Float, 1, 16));
        graph.Initializer.Add(TensorData.Create("W1", [16, 16], Random(256, 1)));
        graph.Initializer.Add(TensorData.Create("B1", [16], Random(16, 2)));
        graph.Initializer.Add(TensorData.Create("W2", [16, 16], Random(256, 3)));
        graph.Initializer.Add(TensorData.Create("B2", [16], Random(16, 4)));
        graph.Node.Add(Node("Gemm", "gemm1", ["X", "W1", "B1"], ["H"]));
        graph.Node.Add(Node("Gemm", "gemm2", ["H", "W2", "B2"], ["Y"]));
        return Model(graph);
    }

    /// <summary>Each broken variant, by name, with the text its one-line error must contain.</summary>
    public static IReadOnlyDictionary<string, (Func<ModelProto> Build, string Expected)> Invalid { get; } = new Dictionary<string, (Func<ModelProto>, string)>
    {
        ["cycle"] = (() => With(Mlp(), m =>
        {
            // gemm1 reads gemm2's output and gemm2 reads gemm1's: H → Y → H.
            m.Graph.Node[0].Input[0] = "Y";
            m.Graph.Input.Clear();
        }), "not a graph input, an initializer or an output of an earlier node"),
        ["unsorted"] = (() => With(Mlp(), m =>
        {
            var first = m.Graph.Node[0];
            m.Graph.Node.RemoveAt(0);
            m.Graph.Node.Add(first);
        }), "earlier node"),
        ["dup_outputs"] = (() => With(Mlp(), m =>
        {
            m.Graph.Node[1].Input[0] = "X";
            m.Graph.Node[1].Output[0] = "H";
            m.Graph.Output[0].Name = "H";
        }), "every value must have one producer"),
        ["no_opset"] = (() => With(Mlp(), m => m.OpsetImport.Clear()), "imports no opset"),
        ["ir_version_0"] = (() => With(Mlp(), m => m.IrVersion = 0), "ir_version is 0"),
        ["int8_gemm"] = (() => With(Mlp(), m => m.Graph.Initializer[0] = Raw("W1", (int)TensorProto.Types.DataType.Int8, [16, 16], new byte[256])), "INT8, which Gemm does not accept"),
        ["negative_dims"] = (() => With(Mlp(), m => m.Graph.Initializer[0] = Raw("W1", Float, [-16, -8], new byte[512])), "negative dim"),
        ["overflowing_dims"] = (() => With(Mlp(), m => m.Graph.Initializer[0] = Raw("W1", Float, [1L << 40, 1L << 40], new byte[16])), "more than 2^31 elements"),
        ["dims_over_2^31"] = (() => With(Mlp(), m => m.Graph.Initializer[0] = Raw("W1", Float, [65536, 65536], new byte[16])), "more than 2^31 elements"),
        ["bytes_not_matching_dims"] = (() => With(Mlp(), m => m.Graph.Initializer[0] = Raw("W1", Float, [16, 16], new byte[10])), "holds 10 bytes but its dims [16,16] need 1024"),
        ["undefined_graph_output"] = (() => With(Mlp(), m => m.Graph.Output[0].Name = "Z"), "graph output 'Z'"),
    };

    /// <summary>A Gemm whose weight has no elements ([1,0] or [0,4]), a valid model ONNX Runtime runs.</summary>
    public static ModelProto EmptyGemm(long k, long n)
    {
        var graph = new GraphProto { Name = "empty" };
        graph.Input.Add(Info("X", Float, 1, k));
        graph.Output.Add(Info("Y", Float, 1, n));
        graph.Initializer.Add(TensorData.Create("W", [k, n], new float[k * n]));
        graph.Node.Add(Node("Gemm", "gemm", ["X", "W"], ["Y"]));
        return Model(graph);
    }

    /// <summary>X → Relu → Y with X declared as <paramref name="dims"/> (e.g. [65536,65536], or a symbolic "batch" for 0).</summary>
    public static ModelProto WithInputDims(params long[] dims)
    {
        var graph = new GraphProto { Name = "relu" };
        graph.Input.Add(Info("X", Float, dims));
        graph.Output.Add(Info("Y", Float, dims));
        graph.Node.Add(Node("Relu", "relu", ["X"], ["Y"]));
        return Model(graph);
    }

    /// <summary>The MLP with weights of <paramref name="width"/>×<paramref name="width"/> (input [1,width]).</summary>
    public static ModelProto Mlp(int width)
    {
        var model = Mlp();
        model.Graph.Input[0] = Info("X", Float, 1, width);
        model.Graph.Output[0] = Info("Y", Float, 1, width);
        model.Graph.Initializer.Clear();
        model.Graph.Initializer.Add(TensorData.Create("W1", [width, width], Random(width * width, 1)));
        model.Graph.Initializer.Add(TensorData.Create("B1", [width], Random(width, 2)));
        model.Graph.Initializer.Add(TensorData.Create("W2", [width, width], Random(width * width, 3)));
        model.Graph.Initializer.Add(TensorData.Create("B2", [width], Random(width, 4)));
        return model;
    }

    /// <summary>The MLP with both weights in one external data file named <paramref name="dataName"/>.</summary>
    public static ModelProto External(string folder, string dataName, int width = 16)
    {
        var model = Mlp(width);
        using var data = File.Create(Path.Combine(folder, dataName));
        foreach (var name in new[] { "W1", "W2" })
        {
            var tensor = model.Graph.Initializer.Single(t => t.Name == name);
            var bytes = tensor.RawData.ToByteArray();
            var offset = data.Position;
            data.Write(bytes);
            tensor.ClearRawData();
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        return model;
    }

    /// <summary>Writes a model to <paramref name="path"/> and returns the path.</summary>
    public static string Write(ModelProto model, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    public static ModelProto With(ModelProto model, Action<ModelProto> change)
    {
        change(model);
        return model;
    }

    private static ModelProto Model(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "adversarial-corpus", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model;
    }

    private static TensorProto Raw(string name, int type, long[] dims, byte[] bytes)
    {
        var t = new TensorProto { Name = name, DataType = type, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static ValueInfoProto Info(string name, int elemType, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d == 0 ? new TensorShapeProto.Types.Dimension { DimParam = "batch" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } } };
    }

    private static NodeProto Node(string op, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    private static float[] Random(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
    }
}
