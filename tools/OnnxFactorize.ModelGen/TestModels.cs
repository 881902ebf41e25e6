using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;
using static OnnxFactorize.ModelGen.GraphBuilder;

namespace OnnxFactorize.ModelGen;

/// <summary>The committed test models, each built from its own fixed seed so that changing one leaves the others'
/// bytes alone. All use opset 17 (default domain) and IR version 8.</summary>
public static class TestModels
{
    /// <summary>Default-domain opset of every generated model.</summary>
    public const long Opset = 17;

    /// <summary>IR version of every generated model.</summary>
    public const long IrVersion = 8;

    /// <summary>producer_name of every generated model.</summary>
    public const string Producer = "OnnxFactorize.ModelGen";

    /// <summary>File name of the external-data model's data file, next to the model.</summary>
    public const string ExternalDataFileName = "external_data.onnx.data";

    /// <summary>Every model file (and data file) name with its bytes, in a fixed order.</summary>
    public static IReadOnlyList<(string FileName, byte[] Bytes)> All()
    {
        var files = new List<(string, byte[])>
        {
            ("mlp_gemm.onnx", MlpGemm().ToByteArray()),
            ("matmul_2d.onnx", MatMul2d().ToByteArray()),
            ("matmul_3d.onnx", MatMul3d().ToByteArray()),
            ("cnn.onnx", Cnn().ToByteArray()),
            ("conv1d.onnx", Conv1d().ToByteArray()),
            ("if_subgraph.onnx", IfSubgraph().ToByteArray()),
            ("shared_weight.onnx", SharedWeight().ToByteArray()),
            ("fp16.onnx", Fp16().ToByteArray()),
            ("bf16_cast.onnx", BFloat16Cast().ToByteArray()),
            ("overridable.onnx", Overridable().ToByteArray()),
        };
        var (external, data) = ExternalData();
        files.Add(("external_data.onnx", external.ToByteArray()));
        files.Add((ExternalDataFileName, data));
        files.Add(("metadata_rich.onnx", MetadataRich().ToByteArray()));
        return files;
    }

    /// <summary>Gemm MLP covering transB 0/1, alpha/beta, bias (n), (1,n) and none; input [batch, 64].</summary>
    public static ModelProto MlpGemm()
    {
        var random = new SeededRandom(1);
        var g = new GraphBuilder("mlp_gemm");
        g.Input("X", FloatType, "batch", 64L);
        g.Initializer("W1", LowRankWeights.Matrix(random, 64, 128, tau: 8), [64, 128]);
        g.Initializer("B1", LowRankWeights.Vector(random, 128), [128]);
        g.Node("Gemm", ["X", "W1", "B1"], ["G1"], Attr("transB", 0L));
        g.Node("Relu", ["G1"], ["H1"]);
        g.Initializer("W2", LowRankWeights.Matrix(random, 96, 128, tau: 6), [96, 128]);
        g.Initializer("B2", LowRankWeights.Vector(random, 96), [96]);
        g.Node("Gemm", ["H1", "W2", "B2"], ["G2"], Attr("transB", 1L));
        g.Node("Relu", ["G2"], ["H2"]);
        g.Initializer("W3", LowRankWeights.Matrix(random, 96, 64, tau: 10), [96, 64]);
        g.Initializer("B3", LowRankWeights.Vector(random, 64), [64]);
        g.Node("Gemm", ["H2", "W3", "B3"], ["G3"], Attr("alpha", 0.5f), Attr("beta", 2.0f));
        g.Node("Relu", ["G3"], ["H3"]);
        g.Initializer("W4", LowRankWeights.Matrix(random, 64, 48, tau: 5), [64, 48]);
        g.Node("Gemm", ["H3", "W4"], ["G4"]);
        g.Node("Relu", ["G4"], ["H4"]);
        g.Initializer("W5", LowRankWeights.Matrix(random, 48, 10, tau: 4), [48, 10]);
        g.Initializer("B5", LowRankWeights.Vector(random, 10), [1, 10]);
        g.Node("Gemm", ["H4", "W5", "B5"], ["Y"]);
        g.Output("Y", FloatType, "batch", 10L);
        return Model(g.Graph, "Gemm MLP: transB 0/1, alpha/beta, bias (n), (1,n) and none.");
    }

    /// <summary>2-D MatMuls on X[4,96]: the weight on the right (X·W[96,80]) and on the left (W[48,4]·X).</summary>
    public static ModelProto MatMul2d()
    {
        var random = new SeededRandom(2);
        var g = new GraphBuilder("matmul_2d");
        g.Input("X", FloatType, 4L, 96L);
        g.Initializer("W_right", LowRankWeights.Matrix(random, 96, 80, tau: 8), [96, 80]);
        g.Node("MatMul", ["X", "W_right"], ["Y_right"]);
        g.Initializer("W_left", LowRankWeights.Matrix(random, 48, 4, tau: 2), [48, 4]);
        g.Node("MatMul", ["W_left", "X"], ["Y_left"]);
        g.Output("Y_right", FloatType, 4L, 80L);
        g.Output("Y_left", FloatType, 48L, 96L);
        return Model(g.Graph, "MatMul with the constant weight as right and as left operand.");
    }

    /// <summary>Transformer-style feed-forward on X[batch, seq, 128]: MatMul 128→256, Add bias, Relu, MatMul 256→128.</summary>
    public static ModelProto MatMul3d()
    {
        var random = new SeededRandom(3);
        var g = new GraphBuilder("matmul_3d");
        g.Input("X", FloatType, "batch", "seq", 128L);
        g.Initializer("W1", LowRankWeights.Matrix(random, 128, 256, tau: 12), [128, 256]);
        g.Initializer("B1", LowRankWeights.Vector(random, 256), [256]);
        g.Node("MatMul", ["X", "W1"], ["M1"]);
        g.Node("Add", ["M1", "B1"], ["A1"]);
        g.Node("Relu", ["A1"], ["H1"]);
        g.Initializer("W2", LowRankWeights.Matrix(random, 256, 128, tau: 12), [256, 128]);
        g.Node("MatMul", ["H1", "W2"], ["Y"]);
        g.Output("Y", FloatType, "batch", "seq", 128L);
        return Model(g.Graph, "Batched 3-D MatMul feed-forward with symbolic batch and seq.");
    }

    /// <summary>Conv2d chain on [1,3,32,32] covering pads, auto_pad, dilation, groups, depthwise, 1×1, no bias,
    /// present and absent kernel_shape; ends GlobalAveragePool → Flatten → Gemm (10 classes).</summary>
    public static ModelProto Cnn()
    {
        var random = new SeededRandom(4);
        var g = new GraphBuilder("cnn");
        g.Input("X", FloatType, 1L, 3L, 32L, 32L);
        var current = "X";
        var layer = 0;

        string Conv(int outChannels, int inPerGroup, int kernel, bool bias, params AttributeProto[] attributes)
        {
            layer++;
            var weight = $"conv{layer}.W";
            var fanIn = inPerGroup * kernel * kernel;
            // Scale σ_0 by 1/√k² so activations stay O(1) through the chain (a conv's operator norm can exceed its
            // matricized spectral norm by up to √(kh·kw)).
            var values = LowRankWeights.Matrix(random, outChannels, fanIn, tau: Math.Max(2, Math.Min(outChannels, fanIn) / 6.0), scale: 1.0 / kernel);
            g.Initializer(weight, values, [outChannels, inPerGroup, kernel, kernel]);
            string[] inputs = [current, weight];
            if (bias)
            {
                g.Initializer($"conv{layer}.B", LowRankWeights.Vector(random, outChannels), [outChannels]);
                inputs = [current, weight, $"conv{layer}.B"];
            }

            g.NamedNode($"conv{layer}", "Conv", inputs, [$"conv{layer}.out"], attributes);
            g.Node("Relu", [$"conv{layer}.out"], [$"relu{layer}.out"]);
            current = $"relu{layer}.out";
            return current;
        }

        // [1,3,32,32] → [1,16,16,17]: pads are [x1_begin, x2_begin, x1_end, x2_end] (ONNX Conv spec).
        Conv(16, 3, 3, bias: true, Ints("kernel_shape", 3L, 3L), Ints("strides", 2L, 2L), Ints("pads", 0L, 1L, 1L, 2L));
        Conv(32, 16, 3, bias: true, Attr("auto_pad", "SAME_UPPER"));
        g.Graph.ValueInfo.Add(ValueInfo("relu2.out", FloatType, 1L, 32L, 16L, 17L));
        Conv(32, 32, 3, bias: true, Ints("kernel_shape", 3L, 3L), Ints("dilations", 2L, 2L), Ints("pads", 2L, 2L, 2L, 2L));
        Conv(32, 16, 3, bias: true, Attr("group", 2L), Ints("pads", 1L, 1L, 1L, 1L));
        Conv(32, 1, 3, bias: true, Ints("kernel_shape", 3L, 3L), Attr("group", 32L), Ints("pads", 1L, 1L, 1L, 1L));
        Conv(64, 32, 1, bias: true, Ints("kernel_shape", 1L, 1L));
        Conv(64, 64, 3, bias: false, Ints("pads", 1L, 1L, 1L, 1L));
        // [1,64,16,17] → [1,64,8,9]
        Conv(64, 64, 3, bias: true, Ints("kernel_shape", 3L, 3L), Ints("strides", 2L, 2L), Attr("auto_pad", "SAME_LOWER"));
        // [1,64,8,9] → [1,64,6,7]
        Conv(64, 64, 3, bias: true, Attr("auto_pad", "VALID"));
        g.Node("GlobalAveragePool", [current], ["gap.out"]);
        g.Node("Flatten", ["gap.out"], ["flat.out"], Attr("axis", 1L));
        g.Initializer("fc.W", LowRankWeights.Matrix(random, 10, 64, tau: 3), [10, 64]);
        g.Initializer("fc.B", LowRankWeights.Vector(random, 10), [10]);
        g.Node("Gemm", ["flat.out", "fc.W", "fc.B"], ["Y"], Attr("transB", 1L));
        g.Output("Y", FloatType, 1L, 10L);
        return Model(g.Graph, "Conv2d chain covering padding modes, dilation, groups and depthwise.");
    }

    /// <summary>Conv1d stack on [1,16,64]: k=3 padded, k=5 stride 2 padded, k=3 unpadded without bias.</summary>
    public static ModelProto Conv1d()
    {
        var random = new SeededRandom(5);
        var g = new GraphBuilder("conv1d");
        g.Input("X", FloatType, 1L, 16L, 64L);
        g.Initializer("c1.W", LowRankWeights.Matrix(random, 32, 16 * 3, tau: 6, scale: 0.6), [32, 16, 3]);
        g.Initializer("c1.B", LowRankWeights.Vector(random, 32), [32]);
        g.Node("Conv", ["X", "c1.W", "c1.B"], ["c1.out"], Ints("kernel_shape", 3L), Ints("pads", 1L, 1L));
        g.Node("Relu", ["c1.out"], ["h1"]);
        g.Initializer("c2.W", LowRankWeights.Matrix(random, 32, 32 * 5, tau: 6, scale: 0.45), [32, 32, 5]);
        g.Initializer("c2.B", LowRankWeights.Vector(random, 32), [32]);
        g.Node("Conv", ["h1", "c2.W", "c2.B"], ["c2.out"], Ints("kernel_shape", 5L), Ints("strides", 2L), Ints("pads", 2L, 2L));
        g.Node("Relu", ["c2.out"], ["h2"]);
        g.Initializer("c3.W", LowRankWeights.Matrix(random, 16, 32 * 3, tau: 4, scale: 0.6), [16, 32, 3]);
        g.Node("Conv", ["h2", "c3.W"], ["Y"]);
        g.Output("Y", FloatType, 1L, 16L, 30L);
        return Model(g.Graph, "Conv1d stack.");
    }

    /// <summary>An If whose then-branch is Flatten → Gemm and whose else-branch is Conv → Flatten; both read the
    /// outer input X and outer initializers and produce [1,16].</summary>
    public static ModelProto IfSubgraph()
    {
        var random = new SeededRandom(6);
        var g = new GraphBuilder("if_subgraph");
        g.Input("cond", BoolType);
        g.Input("X", FloatType, 1L, 3L, 8L, 8L);
        g.Initializer("gemm.W", LowRankWeights.Matrix(random, 192, 16, tau: 4), [192, 16]);
        g.Initializer("gemm.B", LowRankWeights.Vector(random, 16), [16]);
        g.Initializer("conv.W", LowRankWeights.Matrix(random, 16, 192, tau: 4), [16, 3, 8, 8]);
        g.Initializer("conv.B", LowRankWeights.Vector(random, 16), [16]);

        var thenBranch = new GraphBuilder("then_branch");
        thenBranch.Node("Flatten", ["X"], ["then.flat"], Attr("axis", 1L));
        thenBranch.Node("Gemm", ["then.flat", "gemm.W", "gemm.B"], ["then.Y"]);
        thenBranch.Output("then.Y", FloatType, 1L, 16L);

        var elseBranch = new GraphBuilder("else_branch");
        elseBranch.Node("Conv", ["X", "conv.W", "conv.B"], ["else.conv"], Ints("kernel_shape", 8L, 8L));
        elseBranch.Node("Flatten", ["else.conv"], ["else.Y"], Attr("axis", 1L));
        elseBranch.Output("else.Y", FloatType, 1L, 16L);

        g.NamedNode("if", "If", ["cond"], ["Y"], Attr("then_branch", thenBranch.Graph), Attr("else_branch", elseBranch.Graph));
        g.Output("Y", FloatType, 1L, 16L);
        return Model(g.Graph, "If with a Gemm in one branch and a Conv in the other, using outer-scope names.");
    }

    /// <summary>One weight initializer consumed by two MatMuls: Y = Relu(X·W)·W.</summary>
    public static ModelProto SharedWeight()
    {
        var random = new SeededRandom(7);
        var g = new GraphBuilder("shared_weight");
        g.Input("X", FloatType, 2L, 64L);
        g.Initializer("W", LowRankWeights.Matrix(random, 64, 64, tau: 6), [64, 64]);
        g.Node("MatMul", ["X", "W"], ["M1"]);
        g.Node("Relu", ["M1"], ["H1"]);
        g.Node("MatMul", ["H1", "W"], ["Y"]);
        g.Output("Y", FloatType, 2L, 64L);
        return Model(g.Graph, "A weight shared by two MatMuls.");
    }

    /// <summary>FLOAT16 MLP: Gemm (fp16 weight and bias) → Relu → MatMul (fp16 weight); activations fp16.</summary>
    public static ModelProto Fp16()
    {
        var random = new SeededRandom(8);
        var g = new GraphBuilder("fp16");
        g.Input("X", Float16Type, "batch", 64L);
        g.InitializerFloat16("W1", LowRankWeights.Matrix(random, 64, 96, tau: 8), [64, 96]);
        g.InitializerFloat16("B1", LowRankWeights.Vector(random, 96), [96]);
        g.Node("Gemm", ["X", "W1", "B1"], ["G1"]);
        g.Node("Relu", ["G1"], ["H1"]);
        g.InitializerFloat16("W2", LowRankWeights.Matrix(random, 96, 32, tau: 6), [96, 32]);
        g.Node("MatMul", ["H1", "W2"], ["Y"]);
        g.Output("Y", Float16Type, "batch", 32L);
        return Model(g.Graph, "FLOAT16 weights (raw_data) and activations.");
    }

    /// <summary>A BFLOAT16 weight initializer cast to FLOAT before a MatMul (ORT's CPU MatMul has no bf16 kernel).</summary>
    public static ModelProto BFloat16Cast()
    {
        var random = new SeededRandom(9);
        var g = new GraphBuilder("bf16_cast");
        g.Input("X", FloatType, "batch", 64L);
        g.InitializerBFloat16("W_bf16", LowRankWeights.Matrix(random, 64, 48, tau: 6), [64, 48]);
        g.Node("Cast", ["W_bf16"], ["W"], Attr("to", (long)FloatType));
        g.Node("MatMul", ["X", "W"], ["Y"]);
        g.Output("Y", FloatType, "batch", 48L);
        return Model(g.Graph, "BFLOAT16 weight initializer followed by Cast to FLOAT.");
    }

    /// <summary>A Gemm whose weight and bias initializers are also graph inputs (overridable at run time);
    /// stored as float_data rather than raw_data.</summary>
    public static ModelProto Overridable()
    {
        var random = new SeededRandom(10);
        var g = new GraphBuilder("overridable");
        g.Input("X", FloatType, 1L, 32L);
        g.Input("W", FloatType, 32L, 16L);
        g.Input("B", FloatType, 16L);
        g.Initializer("W", LowRankWeights.Matrix(random, 32, 16, tau: 4), [32, 16], useFloatData: true);
        g.Initializer("B", LowRankWeights.Vector(random, 16), [16], useFloatData: true);
        g.Node("Gemm", ["X", "W", "B"], ["Y"]);
        g.Output("Y", FloatType, 1L, 16L);
        return Model(g.Graph, "Initializers that are also graph inputs (overridable).");
    }

    /// <summary>Gemm MLP whose weight matrices live in <see cref="ExternalDataFileName"/> at 4096-aligned offsets;
    /// biases (under 1 KiB) stay inline, as ONNX's save_model does by default.</summary>
    public static (ModelProto Model, byte[] Data) ExternalData()
    {
        var random = new SeededRandom(11);
        var g = new GraphBuilder("external_data");
        g.Input("X", FloatType, "batch", 128L);
        var w1 = g.Initializer("W1", LowRankWeights.Matrix(random, 128, 256, tau: 10), [128, 256]);
        g.Initializer("B1", LowRankWeights.Vector(random, 256), [256]);
        g.Node("Gemm", ["X", "W1", "B1"], ["G1"]);
        g.Node("Relu", ["G1"], ["H1"]);
        var w2 = g.Initializer("W2", LowRankWeights.Matrix(random, 256, 64, tau: 8), [256, 64]);
        g.Initializer("B2", LowRankWeights.Vector(random, 64), [64]);
        g.Node("Gemm", ["H1", "W2", "B2"], ["Y"]);
        g.Output("Y", FloatType, "batch", 64L);

        using var data = new MemoryStream();
        foreach (var tensor in new[] { w1, w2 })
        {
            MoveToExternal(tensor, data);
        }

        return (Model(g.Graph, "Gemm MLP with weights in external data."), data.ToArray());
    }

    /// <summary>Lossless-I/O model: metadata_props, doc strings, a model-local function used by a node, value_info,
    /// and a Loop whose body holds a MatMul reading an outer initializer.</summary>
    public static ModelProto MetadataRich()
    {
        const string FunctionDomain = "onnxfactorize.test";
        var random = new SeededRandom(12);
        var g = new GraphBuilder("metadata_rich");
        g.Graph.DocString = "Graph doc string: X → LinearRelu (local function) → Loop(3 × MatMul+Relu) → Y.";
        g.Input("X", FloatType, 1L, 32L);
        g.Graph.Input[0].DocString = "Input doc string.";
        var fw = g.Initializer("F.W", LowRankWeights.Matrix(random, 32, 32, tau: 5), [32, 32]);
        fw.DocString = "Weight passed to the local function.";
        g.Initializer("L.W", LowRankWeights.Matrix(random, 32, 32, tau: 5), [32, 32]);
        g.InitializerInt64("trip_count", [3], []);

        var call = g.NamedNode("linear_relu", "LinearRelu", ["X", "F.W"], ["F.out"]);
        call.Domain = FunctionDomain;
        call.DocString = "Node doc string: calls the model-local function.";
        g.Graph.ValueInfo.Add(ValueInfo("F.out", FloatType, 1L, 32L));

        var body = new GraphBuilder("loop_body");
        body.Input("iter", Int64Type);
        body.Input("cond_in", BoolType);
        body.Input("v_in", FloatType, 1L, 32L);
        body.Node("Identity", ["cond_in"], ["cond_out"]);
        body.Node("MatMul", ["v_in", "L.W"], ["body.mm"]);
        body.Node("Relu", ["body.mm"], ["v_out"]);
        body.Output("cond_out", BoolType);
        body.Output("v_out", FloatType, 1L, 32L);
        body.Graph.DocString = "Loop body doc string.";
        g.NamedNode("loop", "Loop", ["trip_count", "", "F.out"], ["Y"], Attr("body", body.Graph));
        g.Output("Y", FloatType, 1L, 32L);

        var function = new FunctionProto { Name = "LinearRelu", Domain = FunctionDomain, DocString = "Relu(X·W)." };
        function.Input.AddRange(["X", "W"]);
        function.Output.Add("Y");
        function.Node.Add(new NodeProto { OpType = "MatMul", Name = "fn_matmul", Input = { "X", "W" }, Output = { "XW" } });
        function.Node.Add(new NodeProto { OpType = "Relu", Name = "fn_relu", Input = { "XW" }, Output = { "Y" } });
        function.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });

        var model = Model(g.Graph, "Model doc string: exercises lossless load/save.");
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = FunctionDomain, Version = 1 });
        model.Functions.Add(function);
        model.ModelVersion = 3;
        model.Domain = "org.onnxfactorize.test";
        model.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "OnnxFactorize.ModelGen" });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "license", Value = "MIT" });
        model.MetadataProps.Add(new StringStringEntryProto { Key = "unicode", Value = "σ_i = exp(−i/τ)" });
        return model;
    }

    private static ModelProto Model(GraphProto graph, string docString)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = Producer,
            ProducerVersion = "1",
            DocString = docString,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    /// <summary>Appends the tensor's raw_data to <paramref name="data"/> at the next 4096-aligned offset and points the
    /// tensor at it (ONNX external data: data_location EXTERNAL with location/offset/length entries).</summary>
    private static void MoveToExternal(TensorProto tensor, MemoryStream data)
    {
        const int Alignment = 4096;
        var offset = (data.Length + Alignment - 1) / Alignment * Alignment;
        data.SetLength(offset);
        data.Position = offset;
        tensor.RawData.WriteTo(data);
        var length = tensor.RawData.Length;
        tensor.ClearRawData();
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = ExternalDataFileName });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }
}
