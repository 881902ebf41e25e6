using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

/// <summary>What sequential (asymmetric) reconstruction fits a node's last factor to: the statistics of the input x the
/// node's weight reads in the ORIGINAL model, paired sample by sample with the input x̃ it reads in the model compressed
/// so far (whose own statistics are the node's <see cref="PassContext.InputStatistics"/>).</summary>
/// <param name="Original">Σ x xᵀ, Σ x and the count of the original model's inputs to the weight.</param>
/// <param name="Cross">Σ x̃ xᵀ (in×in, row-major, x̃ along the rows), over the same rows.</param>
internal sealed record ReconstructionTargets(GramAccumulator Original, double[] Cross);
