namespace OnnxFactorize.Passes;

/// <summary>Whether factorization looks at the data the weights see (<see cref="FactorizeOptions.DataAware"/>).</summary>
public enum DataAwareMode
{
    /// <summary>Weight-space decompositions only: the best approximation of W itself.</summary>
    None,

    /// <summary>Gemm, MatMul (weight on the right) and 1×1 Conv use the whitened SVD of W on the centered input Gram
    /// collected from calibration inputs (minimizing the output error on that data, SVD-LLM); k×k Conv2d's spatial-svd,
    /// tucker2 and depthwise fit their factors to the im2col patch statistics (<see cref="ConvDataAwareRules"/>); all fold
    /// the bias correction (W − Ŵ)·μ into the bias.</summary>
    Whiten,

    /// <summary>As <see cref="Whiten"/>, but node group by node group in topological order: each node's inputs come from the
    /// model factorized so far, its first factor from the whitened SVD on them, and its last factor and bias from least
    /// squares against the original model's outputs of that node (asymmetric reconstruction), so errors do not compound.</summary>
    Sequential,
}
