using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace OnnxFactorize.Decomposition;

/// <summary>Dense row-major float32 kernels shared by the SVD and Tucker engines.</summary>
internal static class MatrixOps
{
    /// <summary>‖W − Ŵ‖_F / ‖W‖_F over two arrays of the same order, in double; 0 for a zero W.</summary>
    public static double RelativeError(ReadOnlySpan<float> w, ReadOnlySpan<float> approx)
    {
        double diff = 0, norm = 0;
        for (var j = 0; j < w.Length; j++)
        {
            var d = (double)w[j] - approx[j];
            diff += d * d;
            norm += (double)w[j] * w[j];
        }

        return norm > 0 ? Math.Sqrt(diff / norm) : 0;
    }

    // Register tile of the micro-kernel: 6 rows × 16 columns = 12 Vector256 accumulators (Goto & van de Geijn 2008).
    private const int Mr = 6;
    private const int Nr = 16;

    // Cache blocking: a Kc×Nr panel of packed B stays in L1, Mc rows of A stay in L2.
    private const int Kc = 256;
    private const int Mc = 96;
    private const int Nc = 512;

    // Below this many multiply-adds a parallel loop costs more than it saves.
    private const long ParallelThreshold = 1L << 21;

    // From this many multiply-adds on, a product runs on ONNX Runtime's MLAS SGEMM (the registered Backend) when it is available. The
    // gemm probe on a 2-core AVX-512 EPYC (MLAS runs AVX-512 kernels there, this one AVX2) put the crossover between 32·64·32 (managed faster: ~45 vs 30 GFLOP/s, a session
    // run costs a few µs) and 64·64·64 (MLAS faster); from 1M multiply-adds on MLAS is 1.5–4× faster.
    internal const long OrtThreshold = 1L << 17;

    /// <summary>The fast product for large matrices (MLAS through ONNX Runtime, registered by <c>Runtime.OrtGemm</c>); null
    /// leaves every product on the managed kernel.</summary>
    internal static IGemmBackend? Backend { get; set; }

    /// <summary>C (m×n) = op(A) (m×k) · op(B) (k×n), all row-major; op transposes when asked (A stored k×m, B stored n×k).</summary>
    public static void Gemm(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c, bool transA = false, bool transB = false)
    {
        Gemm(a, m, k, b, n, c, transA, transB, -1);
    }

    /// <summary>Same as the other overload, with an explicit degree of parallelism (-1 = all cores, 1 = calling thread only).</summary>
    public static void Gemm(ReadOnlySpan<float> a, int m, int k, ReadOnlySpan<float> b, int n, Span<float> c, bool transA, bool transB, int maxDegreeOfParallelism)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        CheckLength(a.Length, (long)m * k, nameof(a));
        CheckLength(b.Length, (long)k * n, nameof(b));
        CheckLength(c.Length, (long)m * n, nameof(c));

        // Parallel workers cannot capture spans, so large products run on pooled copies; the copy is O(mk + kn), the product O(mnk).
        var pool = ArrayPool<float>.Shared;
        var aa = pool.Rent(m * k);
        var bb = pool.Rent(k * n);
        var cc = pool.Rent(m * n);
        try
        {
            a[..(m * k)].CopyTo(aa);
            b[..(k * n)].CopyTo(bb);
            GemmCore(aa, m, k, bb, n, cc, transA, transB, maxDegreeOfParallelism);
            cc.AsSpan(0, m * n).CopyTo(c);
        }
        finally
        {
            pool.Return(aa);
            pool.Return(bb);
            pool.Return(cc);
        }
    }

    private static void CheckLength(int actual, long required, string name)
    {
        if (actual < required)
        {
            throw new ArgumentException($"{name} holds {actual} elements but the shape needs {required}.", name);
        }
    }

    /// <summary>Array form used inside the engine (no copies): C = op(A)·op(B), C overwritten.</summary>
    internal static void GemmCore(float[] a, int m, int k, float[] b, int n, float[] c, bool transA, bool transB, int maxDegreeOfParallelism)
    {
        if (m == 0 || n == 0)
        {
            return;
        }

        if (k > 0 && (long)m * n * k >= OrtThreshold
            && Backend is { } backend
            && backend.TryGemm(a, m, k, b, n, c, transA, transB, Parallelism.Resolve(maxDegreeOfParallelism)))
        {
            return;
        }

        ManagedGemm(a, m, k, b, n, c, transA, transB, maxDegreeOfParallelism);
    }

    /// <summary>The managed AVX2 kernel alone (the fallback of the <see cref="Backend"/>): C = op(A)·op(B), C overwritten.</summary>
    internal static void ManagedGemm(float[] a, int m, int k, float[] b, int n, float[] c, bool transA, bool transB, int maxDegreeOfParallelism)
    {
        Array.Clear(c, 0, m * n);
        if (m == 0 || n == 0 || k == 0)
        {
            return;
        }

        // op(A)[i, p] = a[i*rsA + p*csA]; op(B)[p, j] = b[p*rsB + j*csB].
        var rsA = transA ? 1 : k;
        var csA = transA ? m : 1;
        var rsB = transB ? 1 : n;
        var csB = transB ? k : 1;

        // All of op(B) is packed up front (block p0 starts at p0·nPanels·Nr), so one parallel loop runs each C tile over
        // the whole k range: a single synchronization per product, and each C element summed in a fixed order.
        var nPanels = (n + Nr - 1) / Nr;
        var packed = ArrayPool<float>.Shared.Rent(nPanels * Nr * k);
        try
        {
            for (var p0 = 0; p0 < k; p0 += Kc)
            {
                PackB(b, rsB, csB, p0, Math.Min(Kc, k - p0), n, packed, p0 * nPanels * Nr);
            }

            var rowBlocks = (m + Mc - 1) / Mc;
            var colBlocks = (n + Nc - 1) / Nc;
            var tiles = rowBlocks * colBlocks;
            var work = (long)m * n * k;
            var dop = Parallelism.Resolve(maxDegreeOfParallelism);
            void RunTile(int t)
            {
                for (var p0 = 0; p0 < k; p0 += Kc)
                {
                    Tile(a, rsA, csA, packed, p0 * nPanels * Nr, c, m, n, p0, Math.Min(Kc, k - p0), t / colBlocks, t % colBlocks);
                }
            }

            if (dop > 1 && tiles > 1 && work >= ParallelThreshold)
            {
                Parallel.For(0, tiles, new ParallelOptions { MaxDegreeOfParallelism = dop }, RunTile);
            }
            else
            {
                for (var t = 0; t < tiles; t++)
                {
                    RunTile(t);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packed);
        }
    }

    // Packs op(B)[p0..p0+kc, :] as panels of Nr columns, each kc×Nr contiguous, zero-padded past n.
    private static void PackB(float[] b, int rsB, int csB, int p0, int kc, int n, float[] packed, int blockBase)
    {
        var nPanels = (n + Nr - 1) / Nr;
        for (var jp = 0; jp < nPanels; jp++)
        {
            var j0 = jp * Nr;
            var width = Math.Min(Nr, n - j0);
            var dst = blockBase + jp * kc * Nr;
            for (var p = 0; p < kc; p++)
            {
                var row = dst + p * Nr;
                var src = (p0 + p) * rsB + j0 * csB;
                if (csB == 1)
                {
                    Array.Copy(b, src, packed, row, width);
                }
                else
                {
                    for (var jj = 0; jj < width; jj++)
                    {
                        packed[row + jj] = b[src + jj * csB];
                    }
                }

                if (width < Nr)
                {
                    Array.Clear(packed, row + width, Nr - width);
                }
            }
        }
    }

    private static void Tile(float[] a, int rsA, int csA, float[] packed, int blockBase, float[] c, int m, int n, int p0, int kc, int rowBlock, int colBlock)
    {
        var i0 = rowBlock * Mc;
        var i1 = Math.Min(m, i0 + Mc);
        var j0 = colBlock * Nc;
        var j1 = Math.Min(n, j0 + Nc);
        Span<float> edge = stackalloc float[Mr * Nr];

        // Pack this tile's rows of op(A) as Mr-row slivers, kc×Mr contiguous: every micro-kernel step then reads one
        // cache line, whatever A's layout (a transposed A would otherwise touch a new page per step).
        var slivers = (i1 - i0 + Mr - 1) / Mr;
        var packedA = ArrayPool<float>.Shared.Rent(slivers * kc * Mr);
        Span<int> src = stackalloc int[Mr];
        for (var s = 0; s < slivers; s++)
        {
            var dst = s * kc * Mr;

            // Rows past the end repeat the last valid row; their results are discarded.
            for (var r = 0; r < Mr; r++)
            {
                src[r] = Math.Min(i0 + s * Mr + r, i1 - 1) * rsA + p0 * csA;
            }

            for (var p = 0; p < kc; p++)
            {
                var offset = p * csA;
                var at = dst + p * Mr;
                for (var r = 0; r < Mr; r++)
                {
                    packedA[at + r] = a[src[r] + offset];
                }
            }
        }

        for (var j = j0; j < j1; j += Nr)
        {
            var panel = blockBase + j / Nr * kc * Nr;
            var width = Math.Min(Nr, n - j);
            for (var i = i0; i < i1; i += Mr)
            {
                var height = Math.Min(Mr, i1 - i);
                var aStart = (i - i0) / Mr * kc * Mr;
                if (height == Mr && width == Nr)
                {
                    MicroKernel(packedA, aStart, 1, Mr, packed, panel, kc, c, i * n + j, n);
                }
                else
                {
                    // Edge tile: rows past the end repeat the last valid row (results discarded), columns are zero-padded.
                    edge.Clear();
                    MicroKernelEdge(packedA, aStart, 1, Mr, height, packed, panel, kc, edge);
                    for (var r = 0; r < height; r++)
                    {
                        var cRow = (i + r) * n + j;
                        for (var jj = 0; jj < width; jj++)
                        {
                            c[cRow + jj] += edge[r * Nr + jj];
                        }
                    }
                }
            }
        }

        ArrayPool<float>.Shared.Return(packedA);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void MicroKernel(float[] a, int aStart, int rsA, int csA, float[] packed, int panel, int kc, float[] c, int cStart, int ldc)
    {
        ref var aRef = ref MemoryMarshal.GetArrayDataReference(a);
        ref var bRef = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(packed), panel);
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero; var c41 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero; var c51 = Vector256<float>.Zero;
        nint r0 = aStart, r1 = aStart + rsA, r2 = aStart + 2 * rsA, r3 = aStart + 3 * rsA, r4 = aStart + 4 * rsA, r5 = aStart + 5 * rsA;
        nint step = csA;
        for (var p = 0; p < kc; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref bRef, (nuint)(p * Nr));
            var b1 = Vector256.LoadUnsafe(ref bRef, (nuint)(p * Nr + 8));
            var a0 = Vector256.Create(Unsafe.Add(ref aRef, r0));
            c00 = Vector256.MultiplyAddEstimate(a0, b0, c00); c01 = Vector256.MultiplyAddEstimate(a0, b1, c01);
            var a1 = Vector256.Create(Unsafe.Add(ref aRef, r1));
            c10 = Vector256.MultiplyAddEstimate(a1, b0, c10); c11 = Vector256.MultiplyAddEstimate(a1, b1, c11);
            var a2 = Vector256.Create(Unsafe.Add(ref aRef, r2));
            c20 = Vector256.MultiplyAddEstimate(a2, b0, c20); c21 = Vector256.MultiplyAddEstimate(a2, b1, c21);
            var a3 = Vector256.Create(Unsafe.Add(ref aRef, r3));
            c30 = Vector256.MultiplyAddEstimate(a3, b0, c30); c31 = Vector256.MultiplyAddEstimate(a3, b1, c31);
            var a4 = Vector256.Create(Unsafe.Add(ref aRef, r4));
            c40 = Vector256.MultiplyAddEstimate(a4, b0, c40); c41 = Vector256.MultiplyAddEstimate(a4, b1, c41);
            var a5 = Vector256.Create(Unsafe.Add(ref aRef, r5));
            c50 = Vector256.MultiplyAddEstimate(a5, b0, c50); c51 = Vector256.MultiplyAddEstimate(a5, b1, c51);
            r0 += step; r1 += step; r2 += step; r3 += step; r4 += step; r5 += step;
        }

        ref var cRef = ref MemoryMarshal.GetArrayDataReference(c);
        Accumulate(ref cRef, cStart, c00, c01);
        Accumulate(ref cRef, cStart + ldc, c10, c11);
        Accumulate(ref cRef, cStart + 2 * ldc, c20, c21);
        Accumulate(ref cRef, cStart + 3 * ldc, c30, c31);
        Accumulate(ref cRef, cStart + 4 * ldc, c40, c41);
        Accumulate(ref cRef, cStart + 5 * ldc, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(ref float cRef, int offset, Vector256<float> lo, Vector256<float> hi)
    {
        var o = (nuint)offset;
        (Vector256.LoadUnsafe(ref cRef, o) + lo).StoreUnsafe(ref cRef, o);
        (Vector256.LoadUnsafe(ref cRef, o + 8) + hi).StoreUnsafe(ref cRef, o + 8);
    }

    private static void MicroKernelEdge(float[] a, int aStart, int rsA, int csA, int height, float[] packed, int panel, int kc, Span<float> tile)
    {
        ref var bRef = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(packed), panel);
        for (var r = 0; r < height; r++)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            var ai = aStart + r * rsA;
            for (var p = 0; p < kc; p++)
            {
                var av = Vector256.Create(a[ai + p * csA]);
                acc0 = Vector256.MultiplyAddEstimate(av, Vector256.LoadUnsafe(ref bRef, (nuint)(p * Nr)), acc0);
                acc1 = Vector256.MultiplyAddEstimate(av, Vector256.LoadUnsafe(ref bRef, (nuint)(p * Nr + 8)), acc1);
            }

            acc0.CopyTo(tile[(r * Nr)..]);
            acc1.CopyTo(tile[(r * Nr + 8)..]);
        }
    }

    /// <summary>Transposes a row-major rows×cols matrix into dst (cols×rows).</summary>
    public static void Transpose(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        CheckLength(src.Length, (long)rows * cols, nameof(src));
        CheckLength(dst.Length, (long)rows * cols, nameof(dst));
        const int Block = 32;
        for (var i0 = 0; i0 < rows; i0 += Block)
        {
            var i1 = Math.Min(rows, i0 + Block);
            for (var j0 = 0; j0 < cols; j0 += Block)
            {
                var j1 = Math.Min(cols, j0 + Block);
                for (var i = i0; i < i1; i++)
                {
                    for (var j = j0; j < j1; j++)
                    {
                        dst[j * rows + i] = src[i * cols + j];
                    }
                }
            }
        }
    }

    /// <summary>Gram matrix G = X·Xᵀ (rows×rows) of a row-major rows×len float matrix, accumulated in double.</summary>
    internal static double[] GramRowsDouble(float[] x, int rows, int len, int maxDegreeOfParallelism)
    {
        var xd = new double[(long)rows * len];
        for (var i = 0; i < xd.Length; i++)
        {
            xd[i] = x[i];
        }

        var g = new double[rows * rows];
        var dop = Parallelism.Resolve(maxDegreeOfParallelism);
        var options = new ParallelOptions { MaxDegreeOfParallelism = (long)rows * rows * len >= ParallelThreshold ? dop : 1 };

        // Rows are dealt out in a zig-zag so both workers get equal triangles.
        Parallel.For(0, (rows + 1) / 2, options, h =>
        {
            GramRow(xd, rows, len, h, g);
            var mirror = rows - 1 - h;
            if (mirror != h)
            {
                GramRow(xd, rows, len, mirror, g);
            }
        });
        return g;
    }

    private static void GramRow(double[] xd, int rows, int len, int i, double[] g)
    {
        var xi = xd.AsSpan(i * len, len);
        for (var j = 0; j <= i; j++)
        {
            var v = Dot(xi, xd.AsSpan(j * len, len));
            g[i * rows + j] = v;
            g[j * rows + i] = v;
        }
    }

    /// <summary>Vectorized double dot product.</summary>
    internal static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var yr = ref MemoryMarshal.GetReference(y);
        var len = x.Length;
        var s0 = Vector256<double>.Zero;
        var s1 = Vector256<double>.Zero;
        var p = 0;
        for (; p + 8 <= len; p += 8)
        {
            s0 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref xr, (nuint)p), Vector256.LoadUnsafe(ref yr, (nuint)p), s0);
            s1 = Vector256.MultiplyAddEstimate(Vector256.LoadUnsafe(ref xr, (nuint)(p + 4)), Vector256.LoadUnsafe(ref yr, (nuint)(p + 4)), s1);
        }

        var s = Vector256.Sum(s0 + s1);
        for (; p < len; p++)
        {
            s += x[p] * y[p];
        }

        return s;
    }

    /// <summary>y += a·x, vectorized, in double.</summary>
    internal static void Axpy(double a, ReadOnlySpan<double> x, Span<double> y)
    {
        ref var xr = ref MemoryMarshal.GetReference(x);
        ref var yr = ref MemoryMarshal.GetReference(y);
        var len = x.Length;
        var av = Vector256.Create(a);
        var p = 0;
        for (; p + 4 <= len; p += 4)
        {
            Vector256.MultiplyAddEstimate(av, Vector256.LoadUnsafe(ref xr, (nuint)p), Vector256.LoadUnsafe(ref yr, (nuint)p)).StoreUnsafe(ref yr, (nuint)p);
        }

        for (; p < len; p++)
        {
            y[p] += a * x[p];
        }
    }
}
