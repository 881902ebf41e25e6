namespace OnnxFactorize.Decomposition;

/// <summary>Which factorization of the (ridged) Gram matrix produced an <see cref="InputWhitening"/>.</summary>
internal enum WhiteningMethod
{
    /// <summary>G + δI = L Lᵀ, S = L: exact (δ = 0 by default), the SVD-LLM whitening.</summary>
    Cholesky,

    /// <summary>G = Q Λ Qᵀ with eigenvalues lifted to a floor, S = Q Λ'^½: the fallback for rank-deficient G.</summary>
    RegularizedEigen,
}
