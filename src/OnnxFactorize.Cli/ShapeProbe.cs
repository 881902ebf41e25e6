using OnnxFactorize.Onnx;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Cli;

/// <summary>Measures the shapes a model leaves undeclared, so per-node FLOPs (and auto's method choice) use real spatial
/// sizes; when that is impossible (an unbound dim, a model ORT cannot run) the work goes on with declared shapes only.</summary>
internal static class ShapeProbe
{
    public static IReadOnlyDictionary<string, long[]>? TryMeasure(OnnxModel model, IReadOnlyDictionary<string, long> dims, CliOutput output)
    {
        try
        {
            return ModelCost.ValueShapes(model.ProtoWithInlineData(), dims);
        }
        catch (OnnxFactorizeException e)
        {
            output.Line($"note: FLOPs use declared shapes only ({e.Message.TrimEnd('.')}); bind symbolic dims with --dim to measure them.");
            return null;
        }
    }
}
