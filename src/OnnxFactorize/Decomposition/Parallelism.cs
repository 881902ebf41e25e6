namespace OnnxFactorize.Decomposition;

/// <summary>How many threads one decomposition may use. A caller that runs several decompositions at once (one per node)
/// caps each of them for its own async flow, so node workers × GEMM threads never exceed the cores; every kernel resolves
/// its requested degree (-1 = all cores) through <see cref="Resolve"/>. The cap changes only how work is split, never a
/// result: every parallel kernel here partitions output entries, not sums.</summary>
internal static class Parallelism
{
    private static readonly AsyncLocal<int> Cap = new();

    /// <summary>The threads a kernel asked for <paramref name="requested"/> (-1 or 0 = all cores) may use in this flow.</summary>
    public static int Resolve(int requested)
    {
        var dop = requested <= 0 ? Environment.ProcessorCount : requested;
        var cap = Cap.Value;
        return cap > 0 ? Math.Min(dop, cap) : dop;
    }

    /// <summary>Caps every kernel in the current async flow at <paramref name="threads"/> until the scope is disposed.</summary>
    public static IDisposable Limit(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var previous = Cap.Value;
        Cap.Value = previous > 0 ? Math.Min(previous, threads) : threads;
        return new Restore(previous);
    }

    private sealed class Restore(int previous) : IDisposable
    {
        public void Dispose() => Cap.Value = previous;
    }
}
