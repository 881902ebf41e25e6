using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;
using System.Runtime.CompilerServices;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;

namespace OnnxFactorize.Runtime;

/// <summary>Large float32 products on ONNX Runtime's MLAS SGEMM through a one-node Gemm model (transA/transB as
/// attributes, all dimensions symbolic), one session per transpose form and thread count, cached for the process.
/// The SVD code only sees <see cref="MatrixOps"/>; if ONNX Runtime cannot be loaded this backend reports itself
/// unavailable once and every product stays on the managed kernel.</summary>
internal static class OrtGemm
{
    /// <summary>Registers this backend with the decompositions when the engine assembly loads (the one composition root:
    /// Decomposition receives its GEMM, it never reaches for ONNX Runtime itself).</summary>
#pragma warning disable CA2255 // The engine's own composition root: MatrixOps must see MLAS before any decomposition runs.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => MatrixOps.Backend = new Adapter();

    private static readonly ConcurrentDictionary<(bool TransA, bool TransB, int Threads), InferenceSession> Sessions = new();
    private static readonly string[] InputNames = ["A", "B"];
    private static readonly string[] OutputNames = ["Y"];
    private static readonly Lock Gate = new();
    private static readonly AsyncLocal<Backend> Forced = new();
    private static volatile string? _failure;

    /// <summary>Which backend products take in the current async flow (tests and benchmarks compare them).</summary>
    internal enum Backend
    {
        /// <summary>ONNX Runtime for large products when it loads, else the managed kernel.</summary>
        Default,

        /// <summary>The managed kernel only.</summary>
        Managed,

        /// <summary>As if ONNX Runtime failed to load: the failure is caught and the product falls back, but unlike a
        /// real failure it is not remembered for the process.</summary>
        SimulatedLoadFailure,
    }

    /// <summary>False once ONNX Runtime failed to load or run in this process, or while the managed kernel is forced.</summary>
    public static bool Available => _failure is null && Forced.Value == Backend.Default;

    /// <summary>Why ONNX Runtime is not used (null while it is).</summary>
    public static string? Failure => _failure;

    /// <summary>Forces a backend for the current async flow until the returned scope is disposed.</summary>
    public static IDisposable Force(Backend backend)
    {
        var previous = Forced.Value;
        Forced.Value = backend;
        return new Restore(previous);
    }

    /// <summary>C (m×n) = op(A)·op(B) with A stored m×k (k×m when transA), B stored k×n (n×k when transB), all row-major.
    /// Returns false without touching c when the backend is unavailable.</summary>
    public static bool TryGemm(float[] a, int m, int k, float[] b, int n, float[] c, bool transA, bool transB, int threads)
    {
        var forced = Forced.Value;
        if (_failure is not null || forced == Backend.Managed)
        {
            return false;
        }

        try
        {
            if (forced == Backend.SimulatedLoadFailure)
            {
                throw new DllNotFoundException("onnxruntime (simulated load failure)");
            }

            var session = Sessions.TryGetValue((transA, transB, threads), out var cached) ? cached : Create(transA, transB, threads);
            long[] aShape = transA ? [k, m] : [m, k];
            long[] bShape = transB ? [n, k] : [k, n];
            var info = OrtMemoryInfo.DefaultInstance;

            // The tensors alias the managed arrays (pinned for the call): no copies in or out.
            using var av = OrtValue.CreateTensorValueFromMemory(info, a.AsMemory(0, m * k), aShape);
            using var bv = OrtValue.CreateTensorValueFromMemory(info, b.AsMemory(0, k * n), bShape);
            using var cv = OrtValue.CreateTensorValueFromMemory(info, c.AsMemory(0, m * n), [m, n]);
            using var runOptions = new RunOptions();
            session.Run(runOptions, InputNames, [av, bv], OutputNames, [cv]);
            return true;
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or BadImageFormatException)
        {
            // Remembered, so a machine without a usable ONNX Runtime pays for the failed load once, not per product.
            if (forced != Backend.SimulatedLoadFailure)
            {
                _failure = e.Message;
            }

            return false;
        }
    }

    private static InferenceSession Create(bool transA, bool transB, int threads)
    {
        lock (Gate)
        {
            if (Sessions.TryGetValue((transA, transB, threads), out var existing))
            {
                return existing;
            }

            using var options = new SessionOptions
            {
                IntraOpNumThreads = threads,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            };

            // Worker threads would otherwise spin after each product and steal the cores from the managed code between
            // products (CholQR, eigen-solver) on small machines.
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            var session = new InferenceSession(KernelModels.Gemm(transA, transB), options);
            Sessions[(transA, transB, threads)] = session;
            return session;
        }
    }

    private sealed class Restore(Backend previous) : IDisposable
    {
        public void Dispose() => Forced.Value = previous;
    }

    private sealed class Adapter : IGemmBackend
    {
        public bool TryGemm(float[] a, int m, int k, float[] b, int n, float[] c, bool transA, bool transB, int threads) =>
            OrtGemm.TryGemm(a, m, k, b, n, c, transA, transB, threads);
    }
}
