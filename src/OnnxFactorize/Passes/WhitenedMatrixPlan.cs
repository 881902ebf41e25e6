using System.Globalization;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;

namespace OnnxFactorize.Passes;

/// <summary>The data-aware plan of one matrix weight (Gemm, MatMul, 1×1 Conv): the whitened SVD of W on the centered Gram
/// of its inputs (the rank-k Ŵ minimizing ‖(W − Ŵ)(X − μ)‖_F, SVD-LLM), the rank chosen by the policy on that output-space
/// spectrum, the factors in the weight's layout and the bias correction (W − Ŵ)·μ that makes the mean output exact.</summary>
internal sealed record WhitenedMatrixPlan(RankChoice Choice, int Rank, float[] Left, float[] Right, float[] Approximation, double[] BiasDelta,
    double WeightRelError, double OutputRelError, double[] Spectrum, string Reason)
{
    /// <summary>Plans <paramref name="matrix"/> (rows×cols in <paramref name="layout"/>) for <paramref name="policy"/> on the
    /// input statistics <paramref name="inputs"/>; null with a reason when no rank saves parameters (and savings are required).</summary>
    public static WhitenedMatrixPlan? Create(PassContext context, float[] matrix, int rows, int cols, WeightLayout layout, GramAccumulator inputs,
        RankPolicy policy, bool requireSavings, out string reason)
    {
        var (outputs, inputDim) = layout == WeightLayout.OutByIn ? (rows, cols) : (cols, rows);
        var full = Math.Min(rows, cols);
        var whitening = context.WhiteningOf(inputs);
        var needed = requireSavings ? Math.Clamp(policy.RequiredSingularValues(outputs, inputDim), 1, full) : full;
        var svd = WhitenedSvd.Compute(matrix, rows, cols, layout, whitening, needed, context.Options.Svd, context.CancellationToken);
        var choice = RankSelection.Choose(policy, svd.Spectrum.S, svd.Spectrum.FrobeniusNormSquared, rows, cols, context.Options.RankMultiple);
        if (requireSavings && !choice.Saves)
        {
            reason = choice.Explanation;
            return null;
        }

        var k = Math.Clamp(choice.Rank, 1, full);
        if (k > svd.Rank)
        {
            svd = WhitenedSvd.Compute(matrix, rows, cols, layout, whitening, k, context.Options.Svd, context.CancellationToken);
        }

        var (left, right) = svd.Factors(k);
        var exact = whitening.IsExact ? "" : $", {whitening.LiftedDirections} of {inputDim} input directions unseen";
        if (context.TargetsOf(inputs) is { } targets)
        {
            // Sequential: keep the whitened first factor, refit the last one and the bias to the original model's outputs.
            var first = layout == WeightLayout.OutByIn ? right : left;
            var (last, shift, refitError) = SequentialRefit.Fit(matrix, rows, cols, layout, first, inputs, targets);
            (left, right) = layout == WeightLayout.OutByIn ? (last, right) : (left, last);
            var product = new float[rows * cols];
            MatrixOps.Gemm(left, rows, k, right, cols, product);
            reason = string.Create(CultureInfo.InvariantCulture,
                $"data-aware sequential (first factor whitened on {inputs.Count} rows of the model compressed so far{exact}, last factor and bias refitted to the original outputs): {choice.Explanation}; output error {refitError:G3} against the original on the calibration data.");
            return new WhitenedMatrixPlan(choice, k, left, right, product, shift, MatrixOps.RelativeError(matrix, product), refitError, svd.Spectrum.S, reason) { Mode = "sequential" };
        }

        var approximation = svd.Reconstruct(k);
        var delta = context.CorrectBias ? BiasCorrection.Delta(matrix, approximation, rows, cols, layout, inputs.Mean()) : new double[outputs];
        var outputError = svd.PredictedRelativeOutputError(k);
        var bias = context.CorrectBias ? "bias corrected" : "uncentered, bias unchanged (the budget planner measures Ŵ alone)";
        reason = string.Create(CultureInfo.InvariantCulture,
            $"data-aware (whitened on {inputs.Count} calibration rows{exact}): {choice.Explanation}; predicted output error {outputError:G3} on the calibration data, {bias}.");
        return new WhitenedMatrixPlan(choice, k, left, right, approximation, delta, MatrixOps.RelativeError(matrix, approximation), outputError, svd.Spectrum.S, reason);
    }

    /// <summary>How the factors were fitted, for <see cref="FactorizationDecision.Mode"/>: "whiten" or "sequential".</summary>
    public string Mode { get; init; } = "whiten";

    /// <summary>Whether the bias correction is zero (zero-mean inputs, or an exact approximation).</summary>
    public bool HasBiasShift => BiasDelta.Any(d => d != 0);

    /// <summary>The bias shift as float, optionally scaled (Gemm's alpha).</summary>
    public float[] Shift(double scale = 1) => Array.ConvertAll(BiasDelta, d => (float)(d * scale));

    /// <summary>Adds <paramref name="shift"/> to <paramref name="output"/> with an Add node (the chain's new last node); the
    /// shift initializer has <paramref name="dims"/> so it broadcasts over the output's channel axis.</summary>
    public static Node AddShift(FactorizationCandidate candidate, Value output, float[] shift, long[] dims)
    {
        var graph = candidate.Node.Graph;
        var type = PassContext.ConstantTensor(candidate.Weight)!.DataType;
        var bias = graph.AddInitializer(TensorCodec.Create(candidate.Weight.Name + "_bias_shift", dims, shift, type));
        return graph.AddNode("Add", [output, bias], [candidate.Node.Outputs[0].Name + "_bias_shift"], candidate.Label + "_bias_shift");
    }

    /// <summary>A constant bias plus <paramref name="shift"/> (broadcast along its last axis, length = shift.Length, or over
    /// the leading axis when <paramref name="channelFirst"/>): the new bias values and dims, or null when the bias is not a
    /// constant (the caller then adds the shift with <see cref="AddShift"/>). <paramref name="scale"/> multiplies the old bias.</summary>
    public static (float[] Values, long[] Dims)? FoldIntoBias(PassContext context, Value? bias, float[] shift, float scale, bool channelFirst)
    {
        if (bias is null)
        {
            return (shift, [shift.Length]);
        }

        if (PassContext.ConstantTensor(bias) is not { } tensor || !ElementType.IsFactorizable(tensor.DataType))
        {
            return null;
        }

        var values = context.Model.ReadFloats(tensor);
        var dims = tensor.Dims.ToArray();
        var n = shift.Length;
        if (channelFirst)
        {
            // Conv bias is [C_out].
            return dims.Length == 1 && dims[0] == n ? (values.Select((v, i) => scale * v + shift[i]).ToArray(), dims) : null;
        }

        // Gemm C: scalar, [1], [N], [1, N], [M, 1] or [M, N]; the sum broadcasts to [N] or [M, N].
        if (dims.Length > 2)
        {
            return null;
        }

        var m = dims.Length == 2 ? dims[0] : 1;
        var cols = dims.Length == 0 ? 1 : dims[^1];
        if (cols != 1 && cols != n)
        {
            return null;
        }

        var result = new float[m * n];
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                result[i * n + j] = scale * values[i * cols + (cols == 1 ? 0 : j)] + shift[j];
            }
        }

        return (result, dims.Length == 2 ? [m, n] : [n]);
    }
}
