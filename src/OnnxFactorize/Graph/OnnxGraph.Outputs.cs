using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Graph;

/// <content>Exposing intermediate values as graph outputs (to read activations in ONNX Runtime).</content>
public sealed partial class OnnxGraph
{
    /// <summary>Appends <paramref name="value"/> (defined in this scope, not an initializer) to the graph's outputs; a value
    /// that already is an output is left as it is. The output carries the value's declared type when known, else only its
    /// name (ONNX Runtime infers the rest).</summary>
    public void AddOutput(Value value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Graph != this || Find(value.Name) != value)
        {
            throw new InvalidOperationException($"value '{value.Name}' does not belong to graph '{Path}'");
        }

        if (IsOutput(value))
        {
            return;
        }

        _outputs.Add(value);
        _outputInfos.Add(value.Info?.Clone() ?? new ValueInfoProto { Name = value.Name });
        value.IsGraphOutput = true;
        MarkModified();
    }

    /// <summary>Removes <paramref name="value"/> from the graph's outputs (the value and its producer stay; a later
    /// <see cref="ModelGraph.Cleanup"/> removes what nothing needs any more). A value that is not an output is left alone.</summary>
    public void RemoveOutput(Value value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var index = _outputs.IndexOf(value);
        if (index < 0)
        {
            return;
        }

        _outputs.RemoveAt(index);
        _outputInfos.RemoveAt(index);
        value.IsGraphOutput = false;
        MarkModified();
    }
}
