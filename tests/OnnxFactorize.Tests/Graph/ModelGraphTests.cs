using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Tests.Support;
using static OnnxFactorize.Tests.Graph.GraphBuilder;

namespace OnnxFactorize.Tests.Graph;

public class ModelGraphTests
{
    /// <summary>X -> MatMul(W) -> Relu -> Y, plus an If whose then-branch reads the outer value H and the outer initializer W.</summary>
    private static ModelProto ModelWithSubgraph()
    {
        var then = new GraphProto { Name = "then" };
        then.Node.Add(Node("MatMul", "inner_mm", ["H", "W2"], ["t_out"]));
        then.Output.Add(FloatInfo("t_out", 2, 4));
        var otherwise = new GraphProto { Name = "else" };
        otherwise.Node.Add(Node("Identity", "inner_id", ["H"], ["e_out"]));
        otherwise.Output.Add(FloatInfo("e_out", 2, 4));

        var g = new GraphProto { Name = "main" };
        g.Input.Add(FloatInfo("X", 2, 3));
        g.Input.Add(Info("cond", (int)TensorProto.Types.DataType.Bool));
        g.Initializer.Add(Tensor("W", [3, 4], Random(12, 1)));
        g.Initializer.Add(Tensor("W2", [4, 4], Random(16, 2)));
        g.Initializer.Add(Tensor("unused", [2], [1f, 2f]));
        g.Node.Add(Node("If", "branch", ["cond"], ["Z"], GraphBuilder.Graph("then_branch", then), GraphBuilder.Graph("else_branch", otherwise)));
        g.Node.Add(Node("MatMul", "mm", ["X", "W"], ["H"]));
        g.Node.Add(Node("Relu", "relu", ["H"], ["Y"]));
        g.Output.Add(FloatInfo("Y", 2, 4));
        g.Output.Add(FloatInfo("Z", 2, 4));
        return Model(g);
    }

    [Fact]
    public void Import_then_export_without_edits_gives_identical_bytes_for_every_backend_test_model()
    {
        var failures = new List<string>();
        foreach (var path in OnnxTestData.Models())
        {
            var model = OnnxModel.Load(path);
            var exported = ModelGraph.Import(model).Export().ToBytes();
            if (!exported.AsSpan().SequenceEqual(File.ReadAllBytes(path)))
            {
                failures.Add(path);
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public void Outer_scope_names_resolve_to_the_enclosing_graphs_values()
    {
        var graph = ModelGraph.Import(OnnxModel.FromProto(ModelWithSubgraph()));
        var ifNode = graph.Main.Nodes.Single(n => n.OpType == "If");
        var then = ifNode.Subgraphs[0];
        var inner = then.Nodes.Single();

        Assert.Same(graph.Main.Find("H"), inner.Inputs[0]);
        Assert.Same(graph.Main.Find("W2"), inner.Inputs[1]);
        Assert.Contains(inner, graph.Main.Find("H")!.Consumers);
        Assert.Equal("branch/then_branch", then.Path);
    }

    [Fact]
    public void Setting_an_input_updates_both_consumer_lists()
    {
        var graph = ModelGraph.Import(OnnxModel.FromProto(ModelWithSubgraph()));
        var relu = graph.Main.Nodes.Single(n => n.OpType == "Relu");
        var h = graph.Main.Find("H")!;
        var x = graph.Main.Find("X")!;

        relu.SetInput(0, x);

        Assert.DoesNotContain(relu, h.Consumers);
        Assert.Contains(relu, x.Consumers);
        Assert.True(graph.IsModified);
    }

    [Fact]
    public void Toposort_puts_an_if_node_after_the_producer_of_a_value_its_branches_read()
    {
        var graph = ModelGraph.Import(OnnxModel.FromProto(ModelWithSubgraph()));
        graph.Main.TopologicalSort();
        var order = graph.Main.Nodes.Select(n => n.Name).ToList();

        Assert.True(order.IndexOf("mm") < order.IndexOf("branch"), string.Join(",", order));
        Assert.True(order.IndexOf("mm") < order.IndexOf("relu"));
    }

    [Fact]
    public void Cleanup_removes_dead_nodes_and_unused_initializers_but_never_outputs_or_inputs()
    {
        var proto = ModelWithSubgraph();
        proto.Graph.Node.Add(Node("Relu", "dead", ["X"], ["dead_out"]));
        proto.Graph.Input.Add(FloatInfo("unused_input", 1));
        var graph = ModelGraph.Import(OnnxModel.FromProto(proto));

        var removed = graph.Cleanup();

        Assert.Equal(2, removed);
        Assert.DoesNotContain(graph.Main.Nodes, n => n.Name == "dead");
        Assert.Null(graph.Main.Find("unused"));
        Assert.NotNull(graph.Main.Find("W2"));
        Assert.Equal(["X", "cond", "unused_input"], graph.Main.Inputs.Select(v => v.Name));
        Assert.Equal(["Y", "Z"], graph.Main.Outputs.Select(v => v.Name));
        var exported = graph.Export().Proto.Graph;
        Assert.Equal(["Y", "Z"], exported.Output.Select(o => o.Name));
        Assert.DoesNotContain(exported.Initializer, t => t.Name == "unused");
    }

    [Fact]
    public void Rewiring_a_node_keeps_the_output_name_and_downstream_untouched()
    {
        var graph = ModelGraph.Import(OnnxModel.FromProto(ModelWithSubgraph()));
        var main = graph.Main;
        var mm = main.Nodes.Single(n => n.Name == "mm");
        var h = mm.Outputs[0];
        var consumersBefore = h.Consumers.ToList();

        var first = main.AddNode("MatMul", [main.Find("X"), main.Find("W")], ["H_part"], "mm_a");
        var second = main.AddNode("Identity", [first.Outputs[0]], ["H_new"], "mm_b");
        main.TransferOutput(mm, 0, second, 0);
        graph.CleanupAndSort();

        Assert.Same(second, h.Producer);
        Assert.Equal("H", h.Name);
        Assert.Equal(consumersBefore, h.Consumers);
        Assert.DoesNotContain(main.Nodes, n => n.Name == "mm");
        var names = main.Nodes.Select(n => n.Name).ToList();
        Assert.True(names.IndexOf("mm_a") < names.IndexOf("mm_b") && names.IndexOf("mm_b") < names.IndexOf("relu"));
        Assert.Contains(graph.Export().Proto.Graph.Node, n => n.Name == "mm_b" && n.Output.Single() == "H");
    }

    [Fact]
    public void Unique_names_never_collide_with_names_in_subgraphs()
    {
        var graph = ModelGraph.Import(OnnxModel.FromProto(ModelWithSubgraph()));

        Assert.Equal("t_out_1", graph.UniqueName("t_out"));
        Assert.Equal("fresh", graph.UniqueName("fresh"));
        Assert.Equal("fresh_1", graph.UniqueName("fresh"));
    }

    [Fact]
    public void An_initializer_listed_as_input_is_overridable_not_constant()
    {
        var proto = ModelWithSubgraph();
        proto.Graph.Input.Add(FloatInfo("W", 3, 4));
        var graph = ModelGraph.Import(OnnxModel.FromProto(proto));

        Assert.True(graph.Main.Find("W")!.IsOverridableInitializer);
        Assert.False(graph.Main.Find("W")!.IsConstant);
        Assert.True(graph.Main.Find("W2")!.IsConstant);
    }

    [Fact]
    public void A_node_reading_an_undefined_name_is_a_one_line_error_naming_it()
    {
        var proto = ModelWithSubgraph();
        proto.Graph.Node.Add(Node("Relu", "bad", ["nowhere"], ["bad_out"]));

        var e = Assert.Throws<OnnxFactorizeException>(() => ModelGraph.Import(OnnxModel.FromProto(proto)));

        Assert.Contains("'nowhere'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Cleanup_removes_an_outer_initializer_whose_last_reader_was_replaced_inside_a_subgraph()
    {
        var graph = ModelGraph.Import(OnnxModel.FromProto(ModelWithSubgraph()));
        var then = graph.Main.Nodes.Single(n => n.OpType == "If").Subgraphs[0];
        var inner = then.Nodes.Single();
        var replacement = then.AddNode("Identity", [graph.Main.Find("H")], ["t_new"], "inner_id2");
        then.TransferOutput(inner, 0, replacement, 0);

        graph.CleanupAndSort();

        Assert.Null(graph.Main.Find("W2"));
        Assert.DoesNotContain(graph.Export().Proto.Graph.Initializer, t => t.Name == "W2");
        Assert.Equal("t_out", then.Outputs.Single().Name);
    }
}
