namespace OnnxFactorize.Decomposition;

/// <summary>How a row-major weight matrix maps an input vector x to an output vector y.</summary>
internal enum WeightLayout
{
    /// <summary>y = W·x: W is out×in (Gemm with transB=1, a Conv weight flattened to C_out×(C_in·kh·kw)).</summary>
    OutByIn,

    /// <summary>y = x·W (row vectors): W is in×out (MatMul's constant right operand, Gemm with transB=0).</summary>
    InByOut,
}
