namespace OnnxFactorize.Decomposition;

/// <summary>The SVD of the whitened weight W·S (out×in) and the factors it unwhitens to. Singular values are in output
/// space: Σ_{i≥k} σ_i² is the squared output error ‖(W − Ŵ_k)X‖_F² of the rank-k truncation (exactly when the whitening is
/// exact, an upper bound otherwise), so rank policies applied to <see cref="Spectrum"/> act on output error.</summary>
internal sealed class WhitenedSvdResult
{
    private readonly int _maxDegreeOfParallelism;

    internal WhitenedSvdResult(WeightLayout layout, int outputs, int inputs, SvdResult spectrum, InputWhitening whitening, int maxDegreeOfParallelism)
    {
        Layout = layout;
        Outputs = outputs;
        Inputs = inputs;
        Spectrum = spectrum;
        Whitening = whitening;
        _maxDegreeOfParallelism = maxDegreeOfParallelism;
    }

    /// <summary>Layout of the weight the result was computed from; factors are returned in the same layout.</summary>
    public WeightLayout Layout { get; }

    /// <summary>Output dimension (rows of W in the y = W·x form).</summary>
    public int Outputs { get; }

    /// <summary>Input dimension (columns of W in the y = W·x form).</summary>
    public int Inputs { get; }

    /// <summary>SVD of W·S (out×in): singular values in output space; FrobeniusNormSquared = ‖W·S‖_F² = ‖W·X‖_F² (exact whitening).</summary>
    public SvdResult Spectrum { get; }

    /// <summary>The whitening the SVD was computed with.</summary>
    public InputWhitening Whitening { get; }

    /// <summary>Number of computed triplets.</summary>
    public int Rank => Spectrum.Rank;

    /// <summary>Predicted output error ‖(W − Ŵ_k)·X‖_F = sqrt(Σ_{i≥k} σ_i²) of the whitened spectrum (exact for an exact whitening, an upper bound otherwise).</summary>
    public double PredictedOutputError(int k) => Math.Sqrt(Spectrum.TailEnergy(k));

    /// <summary>Predicted relative output error ‖(W − Ŵ_k)X‖_F / ‖W X‖_F.</summary>
    public double PredictedRelativeOutputError(int k) => Spectrum.RelativeError(k);

    /// <summary>Rank-k factors with W ≈ Left·Right in the weight's own layout. OutByIn: Left = U_k Σ_k^½ (out×k),
    /// Right = Σ_k^½ V_kᵀ S⁻¹ (k×in). InByOut: Left = (Σ_k^½ V_kᵀ S⁻¹)ᵀ (in×k), Right = (U_k Σ_k^½)ᵀ (k×out).</summary>
    public (float[] Left, float[] Right) Factors(int k)
    {
        var (a, whitenedRight) = Spectrum.BalancedFactors(k);
        var b = new float[k * Inputs];
        MatrixOps.GemmCore(whitenedRight, k, Inputs, Whitening.SInverseArray, Inputs, b, transA: false, transB: false, _maxDegreeOfParallelism);
        if (Layout == WeightLayout.OutByIn)
        {
            return (a, b);
        }

        var left = new float[Inputs * k];
        var right = new float[k * Outputs];
        MatrixOps.Transpose(b, k, Inputs, left);
        MatrixOps.Transpose(a, Outputs, k, right);
        return (left, right);
    }

    /// <summary>The rank-k approximation Ŵ in the weight's own layout (Left·Right).</summary>
    public float[] Reconstruct(int k)
    {
        var (left, right) = Factors(k);
        var (rows, cols) = Layout == WeightLayout.OutByIn ? (Outputs, Inputs) : (Inputs, Outputs);
        var w = new float[rows * cols];
        MatrixOps.GemmCore(left, rows, k, right, cols, w, transA: false, transB: false, _maxDegreeOfParallelism);
        return w;
    }
}
