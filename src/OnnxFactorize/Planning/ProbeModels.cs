using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using TensorData = OnnxFactorize.Validation.TensorData;
using OnnxFactorize.Runtime;

namespace OnnxFactorize.Planning;

/// <summary>The small models the planner runs besides the <see cref="WeightProbe"/>: a node isolated in a one-node model
/// (for latency), and the model with intermediate values exposed as outputs (to read their shapes and values). Every edit
/// goes through the graph layer.</summary>
internal static class ProbeModels
{
    /// <summary>A one-node model: the node (named <paramref name="label"/>), its constant inputs as initializers, its other
    /// inputs as graph inputs with the shapes and types of <paramref name="activations"/>.</summary>
    public static OnnxModel Isolate(Node node, string label, IReadOnlyDictionary<string, TensorData> activations)
    {
        var inputs = new List<(string Name, int ElementType, IReadOnlyList<long> Dims)>();
        var constants = new List<Onnx.Proto.TensorProto>();
        foreach (var input in node.Inputs)
        {
            if (input is null || constants.Any(t => t.Name == input.Name) || inputs.Any(i => i.Name == input.Name))
            {
                continue;
            }

            if (PassContext.ConstantTensor(input) is { } tensor)
            {
                var copy = tensor.Clone();
                copy.Name = input.Name;
                constants.Add(copy);
            }
            else
            {
                var a = activations.TryGetValue(input.Name, out var t) ? t
                    : throw new OnnxFactorizeException($"node '{label}': the shape of input '{input.Name}' could not be measured.");
                inputs.Add((input.Name, (int)a.ElementType, a.Shape));
            }
        }

        var source = node.Graph.Model.Source;
        return OnnxModel.SingleNode(source, OnnxGraph.ExportNode(node), label, constants, inputs);
    }

    /// <summary>Opens a session on model bytes, turning ONNX Runtime failures into one-line messages.</summary>
    public static InferenceSession Open(byte[] model, SessionOptions options, string what) => OrtSessions.Open(model, options, what, "as a probe");

    /// <summary>The model with the named intermediate values added as outputs (to read their shapes and values).</summary>
    public static byte[] WithOutputs(OnnxModel model, IEnumerable<string> names)
    {
        var graph = ModelGraph.Import(model);
        foreach (var name in names)
        {
            if (graph.Main.Find(name) is { } value && value.Graph == graph.Main)
            {
                graph.Main.AddOutput(value);
            }
        }

        return graph.Export().ToBytes();
    }
}
