namespace OnnxFactorize.Decomposition;

/// <summary>A fast float32 product the decompositions use for large matrices, injected by the layer that owns it (the ONNX
/// Runtime boundary registers MLAS SGEMM); Decomposition itself holds no ONNX or ONNX Runtime type.</summary>
internal interface IGemmBackend
{
    /// <summary>C (m×n) = op(A)·op(B), all row-major; false, with C untouched, when the backend cannot run it.</summary>
    bool TryGemm(float[] a, int m, int k, float[] b, int n, float[] c, bool transA, bool transB, int threads);
}
