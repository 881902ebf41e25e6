namespace OnnxFactorize.Passes;

/// <summary>The one FLOP model of the engine, used by the rules (cost before and after a rewrite), the reports and the
/// validation's model cost: 2 FLOPs per multiply-add, bias adds not counted.</summary>
public static class FlopModel
{
    /// <summary>A (rows×inner)·(inner×cols) product: 2·rows·inner·cols.</summary>
    public static long Product(long rows, long inner, long cols) => checked(2 * rows * inner * cols);

    /// <summary>A conv with <paramref name="outChannels"/> filters of <paramref name="filterSize"/> = C_in/group·Πk weights
    /// each, at <paramref name="positions"/> output positions (batch included).</summary>
    public static long Conv(long outChannels, long filterSize, long positions) => Product(outChannels, filterSize, positions);

    /// <summary>Gemm from A's shape and Y's shape [M, N]: K is A's second dim, or its first with transA.</summary>
    public static long Gemm(IReadOnlyList<long> aShape, IReadOnlyList<long> yShape, bool transA)
    {
        ArgumentNullException.ThrowIfNull(aShape);
        return Product(Count(yShape), transA ? aShape[0] : aShape[^1], 1);
    }

    /// <summary>MatMul (numpy semantics): every element of Y is a K-long dot product, K = A's last dim.</summary>
    public static long MatMul(IReadOnlyList<long> aShape, IReadOnlyList<long> yShape)
    {
        ArgumentNullException.ThrowIfNull(aShape);
        return Product(Count(yShape), aShape[^1], 1);
    }

    /// <summary>Conv from W [C_out, C_in/group, k…] and Y [N, C_out, spatial…].</summary>
    public static long Conv(IReadOnlyList<long> wShape, IReadOnlyList<long> yShape)
    {
        ArgumentNullException.ThrowIfNull(wShape);
        return Product(Count(wShape.Skip(1).ToArray()), Count(yShape), 1);
    }

    private static long Count(IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long count = 1;
        foreach (var d in shape)
        {
            count = checked(count * d);
        }

        return count;
    }
}
