using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>How much work deciding a node is, in units proportional to the cost of decomposing its weight: a rows×cols
/// matrix (a Conv weight [O, I, kh, kw] viewed as O × I·kh·kw) costs rows·cols·min(rows, cols), the flop count of a full SVD
/// up to a constant. Progress reports carry these so an ETA follows the work done, not the count of nodes.</summary>
public static class WorkUnits
{
    /// <summary>The decomposition cost of a weight of <paramref name="shape"/>; 1 when the shape is unknown or empty.</summary>
    public static double Decomposition(IReadOnlyList<long>? shape)
    {
        if (shape is not { Count: > 0 } || shape.Any(d => d <= 0))
        {
            return 1;
        }

        var rows = (double)shape[0];
        var cols = shape.Skip(1).Aggregate(1.0, (a, d) => a * d);
        return Math.Max(1, rows * cols * Math.Min(rows, cols));
    }

    /// <summary>The decomposition cost of the largest constant input of <paramref name="node"/> (its weight); 1 when it has none.</summary>
    public static double Of(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var best = 1.0;
        foreach (var input in node.Inputs)
        {
            if (input is not null && PassContext.ConstantTensor(input) is { } tensor)
            {
                best = Math.Max(best, Decomposition(tensor.Dims));
            }
        }

        return best;
    }
}
