using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxFactorize.Validation;

/// <summary>A model input as declared: name, element type, and per axis a fixed size or a symbolic name.</summary>
public sealed record ModelInput(string Name, TensorElementType ElementType, IReadOnlyList<long> Dims, IReadOnlyList<string> SymbolicDims)
{
    /// <summary>Declared shape, e.g. float32[batch,3,224,224] ('?' for an unnamed dynamic axis).</summary>
    public string Describe()
    {
        var axes = Dims.Select((d, i) => d > 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : !string.IsNullOrEmpty(SymbolicDims[i]) ? SymbolicDims[i] : "?");
        return $"{TensorData.ElementTypeName(ElementType)}[{string.Join(",", axes)}]";
    }

    /// <summary>The declared inputs of an ONNX Runtime session (initializers excluded), in order.</summary>
    public static IReadOnlyList<ModelInput> FromSession(InferenceSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        var list = new List<ModelInput>();
        foreach (var name in session.InputNames)
        {
            var meta = session.InputMetadata[name];
            if (!meta.IsTensor)
            {
                throw new OnnxFactorizeException($"Input '{name}' is not a tensor ({meta.OnnxValueType}); only tensor inputs can be validated.");
            }

            var symbolic = meta.SymbolicDimensions ?? [];
            var syms = meta.Dimensions.Select((_, i) => i < symbolic.Length ? symbolic[i] ?? "" : "").ToArray();
            list.Add(new ModelInput(name, meta.ElementDataType, [.. meta.Dimensions.Select(d => (long)d)], syms));
        }

        return list;
    }
}
