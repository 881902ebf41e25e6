using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using static OnnxFactorize.Tests.Graph.GraphBuilder;

namespace OnnxFactorize.Tests.Graph;

public class OnnxGraphOutputsTests
{
    // X [2,3] -> MatMul(W) -> H -> Relu -> Y, H declared in value_info.
    private static OnnxModel Model()
    {
        var g = new GraphProto { Name = "main" };
        g.Input.Add(FloatInfo("X", 2, 3));
        g.Initializer.Add(Tensor("W", [3, 4], GraphBuilder.Random(12, 1)));
        g.Node.Add(Node("MatMul", "mm", ["X", "W"], ["H"]));
        g.Node.Add(Node("Relu", "relu", ["H"], ["Y"]));
        g.ValueInfo.Add(FloatInfo("H", 2, 4));
        g.Output.Add(FloatInfo("Y", 2, 4));
        return OnnxModel.FromProto(GraphBuilder.Model(g), "outputs.onnx");
    }

    [Fact]
    public void An_intermediate_value_added_as_output_is_exported_after_the_existing_outputs_with_its_declared_type()
    {
        var graph = ModelGraph.Import(Model());
        var h = graph.Main.Find("H")!;

        graph.Main.AddOutput(h);
        graph.Main.AddOutput(h);

        var outputs = graph.Export().Proto.Graph.Output;
        Assert.Equal(["Y", "H"], outputs.Select(o => o.Name));
        Assert.Equal(4, outputs[1].Type.TensorType.Shape.Dim[1].DimValue);
        Assert.True(h.IsGraphOutput);
        Assert.True(graph.IsModified);
        Assert.Equal(2, graph.Export().Proto.Graph.Node.Count);
    }

    [Fact]
    public void An_added_output_survives_cleanup_and_runs_in_onnx_runtime()
    {
        var graph = ModelGraph.Import(Model());
        graph.Main.AddOutput(graph.Main.Find("H")!);
        graph.CleanupAndSort();

        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(graph.Export().ToBytes());

        Assert.Equal(["Y", "H"], session.OutputNames);
    }
}
