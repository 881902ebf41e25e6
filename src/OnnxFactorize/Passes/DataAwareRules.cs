using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;

namespace OnnxFactorize.Passes;

/// <summary>The data-aware (whiten) plans of the svd rules: Gemm (transA = 0), MatMul with the weight on the right, and
/// 1×1 Conv2d, when <see cref="PassContext.InputStatisticsOf"/> has the statistics of what the weight reads. The factors
/// come from <see cref="WhitenedMatrixPlan"/>; the bias correction (W − Ŵ)·μ goes into the bias of the chain's last node
/// (Gemm: C, created when absent, rescaled so beta becomes 1; 1×1 Conv: its bias) or, when there is no constant bias to
/// fold into (MatMul, a computed C or Conv bias), into a new Add node after the chain. <see cref="FactorizationPlan.Reconstruct"/>
/// still returns the dense Ŵ; the bias shift is not part of it.</summary>
internal static class DataAwareRules
{
    /// <summary>Why <paramref name="candidate"/> is planned weight-space although data-aware factorization is on, or null
    /// when it has statistics that fit its weight.</summary>
    public static string? Unusable(MatrixCandidate candidate, GramAccumulator? statistics)
    {
        if (statistics is null)
        {
            return candidate.Node.Graph.Path.Length > 0 ? "a node in a subgraph" : "no calibration statistics of its input";
        }

        if (candidate.Node.OpType == "Gemm" && candidate.Node.GetInt("transA", 0) != 0)
        {
            return "Gemm with transA";
        }

        if (candidate.Node.OpType == "MatMul" && candidate.WeightIndex != 1)
        {
            return "the weight is the left operand";
        }

        return statistics.Dimension == candidate.Rows ? null : $"its input statistics have width {statistics.Dimension}, the weight reads {candidate.Rows}";
    }

    /// <summary>Gemm Y = alpha·A·B' + beta·C → MatMul(A, alpha·P) → Gemm(·, Q, C'), C' = beta·C + alpha·(B' − B̂')ᵀμ.</summary>
    public static FactorizationPlan? Gemm(MatrixCandidate c, GramAccumulator statistics, RankTarget target, out string reason)
    {
        var plan = Plan(c, statistics, target, out reason);
        if (plan is null)
        {
            return null;
        }

        var node = c.Node;
        var alpha = node.GetFloat("alpha", 1f);
        var beta = node.GetFloat("beta", 1f);
        return new FactorizationPlan(c, Decision(c, plan, alpha == 1f ? reason : reason + $" alpha {alpha} folded into the first factor."), Emit, () => Stored(c, plan.Approximation));

        Node Emit()
        {
            var graph = node.Graph;
            var (p, q) = Factors(c, plan, alpha);
            var output = node.Outputs[0];
            var first = graph.AddNode("MatMul", [node.Inputs[0], p], [output.Name + "_svd"], c.Label + "_svd_a");
            var bias = node.Inputs.Count > 2 ? node.Inputs[2] : null;
            var shift = plan.Shift(alpha);
            var folded = beta == 0 ? (shift, [shift.Length]) : WhitenedMatrixPlan.FoldIntoBias(c.Context, bias, shift, beta, channelFirst: false);
            if (!plan.HasBiasShift || folded is null)
            {
                Value?[] inputs = bias is null ? [first.Outputs[0], q] : [first.Outputs[0], q, bias];
                var attributes = bias is null ? [] : new[] { NodeAttributes.Float("beta", beta) };
                var second = graph.AddNode("Gemm", inputs, [output.Name + "_svd_out"], c.Label + "_svd_b", attributes);
                return plan.HasBiasShift ? WhitenedMatrixPlan.AddShift(c, second.Outputs[0], shift, [shift.Length]) : second;
            }

            var (values, dims) = folded.Value;
            var corrected = graph.AddInitializer(TensorCodec.Create(c.Weight.Name + "_bias", dims, values, DataType(c)));
            return graph.AddNode("Gemm", [first.Outputs[0], q, corrected], [output.Name + "_svd_out"], c.Label + "_svd_b");
        }
    }

    /// <summary>MatMul X·W → MatMul(X, P) → MatMul(·, Q) → Add((W − Ŵ)ᵀμ) (the Add only when the shift is not zero).</summary>
    public static FactorizationPlan? MatMul(MatrixCandidate c, GramAccumulator statistics, RankTarget target, out string reason)
    {
        var plan = Plan(c, statistics, target, out reason);
        if (plan is null)
        {
            return null;
        }

        return new FactorizationPlan(c, Decision(c, plan, plan.HasBiasShift ? reason + " The bias shift is a new Add after the chain." : reason), Emit, () => plan.Approximation);

        Node Emit()
        {
            var node = c.Node;
            var graph = node.Graph;
            var (p, q) = Factors(c, plan, 1f);
            var output = node.Outputs[0];
            var first = graph.AddNode("MatMul", [node.Inputs[0], p], [output.Name + "_svd"], c.Label + "_svd_a");
            var second = graph.AddNode("MatMul", [first.Outputs[0], q], [output.Name + "_svd_out"], c.Label + "_svd_b");
            return plan.HasBiasShift ? WhitenedMatrixPlan.AddShift(c, second.Outputs[0], plan.Shift(), [plan.BiasDelta.Length]) : second;
        }
    }

    /// <summary>1×1 Conv2d: conv C_in→r (strides, pads) → conv r→C_out with bias + (W − Ŵ)·μ, μ the mean input patch.</summary>
    public static ConvCandidate? Conv(ConvSubject s, GramAccumulator statistics, RankTarget target, bool requireSavings, out string reason)
    {
        var g = s.Geometry;
        int rows = g.OutChannels, cols = g.InPerGroup;
        // auto holds the Conv methods to one weight error so their costs compare; a 1×1 kernel has only svd, and a weight
        // error says nothing about the data, so the node's own policy acts on the output-space spectrum.
        var policy = target.MaxError is null ? target.Policy : s.Context.PolicyFor(s.Node);
        var plan = WhitenedMatrixPlan.Create(s.Context, s.Values, rows, cols, WeightLayout.OutByIn, statistics, policy, requireSavings, out var why);
        if (plan is null)
        {
            reason = $"svd: {why}";
            return null;
        }

        var r = plan.Rank;
        reason = $"svd: rank {r} of {Math.Min(rows, cols)}, {why}";
        return new ConvCandidate("svd", r, [r], plan.Choice.BreakEvenRank, (long)r * (rows + cols), FlopModel.Conv(r, cols, g.OutputPositions) + FlopModel.Conv(rows, r, g.OutputPositions),
            plan.WeightRelError, plan.Spectrum, reason, () => plan.Approximation, Emit, plan.Mode, plan.OutputRelError);

        Node Emit(ConvSubject subject)
        {
            var first = subject.Conv(subject.Node.Inputs[0]!, subject.Initializer("_svd_b", subject.Dims(r, cols, g.NoAxes), plan.Right), null, "_svd", g.Attributes(g.AllAxes));
            var a = subject.Initializer("_svd_a", subject.Dims(rows, r, g.NoAxes), plan.Left);
            var shift = plan.Shift();
            var folded = plan.HasBiasShift ? WhitenedMatrixPlan.FoldIntoBias(subject.Context, subject.Bias, shift, 1f, channelFirst: true) : null;
            if (folded is { } f)
            {
                return subject.Conv(first.Outputs[0], a, subject.Initializer("_bias", f.Dims, f.Values), "_svd_out", g.Attributes(g.NoAxes));
            }

            var second = subject.Conv(first.Outputs[0], a, subject.Bias, "_svd_out", g.Attributes(g.NoAxes));
            return plan.HasBiasShift ? WhitenedMatrixPlan.AddShift(subject, second.Outputs[0], shift, [rows, .. Enumerable.Repeat(1L, g.SpatialRank)]) : second;
        }
    }

    private static WhitenedMatrixPlan? Plan(MatrixCandidate c, GramAccumulator statistics, RankTarget target, out string reason)
    {
        // The matrix view (rows = inputs K, cols = outputs N): y = x·W.
        var matrix = c.Values;
        if (c.Transposed)
        {
            matrix = new float[c.Values.Length];
            MatrixOps.Transpose(c.Values, c.Cols, c.Rows, matrix);
        }

        return WhitenedMatrixPlan.Create(c.Context, matrix, c.Rows, c.Cols, WeightLayout.InByOut, statistics, target.Policy, requireSavings: true, out reason);
    }

    private static FactorizationDecision Decision(MatrixCandidate c, WhitenedMatrixPlan plan, string reason) => new()
    {
        NodeName = c.Label,
        OpType = c.Node.OpType,
        GraphPath = c.Node.Graph.Path,
        Method = "svd",
        Status = DecisionStatus.Factorized,
        Reason = reason,
        WeightShape = c.WeightShape,
        Rank = plan.Rank,
        Ranks = [plan.Rank],
        BreakEvenRank = plan.Choice.BreakEvenRank,
        ParamsBefore = (long)c.Rows * c.Cols,
        ParamsAfter = c.ParamsAt(plan.Rank),
        FlopsBefore = c.FlopsBefore,
        FlopsAfter = FlopModel.Product(c.ActivationRows, c.Rows, plan.Rank) + FlopModel.Product(c.ActivationRows, plan.Rank, c.Cols),
        WeightRelError = plan.WeightRelError,
        SingularValues = plan.Spectrum,
        Mode = plan.Mode,
        OutputRelError = plan.OutputRelError,
    };

    // Initializers of the two factors (K×k scaled by alpha, k×N), in the weight's element type; not shared between nodes,
    // since each node's factors depend on its own input statistics.
    private static (Value P, Value Q) Factors(MatrixCandidate c, WhitenedMatrixPlan plan, float alpha)
    {
        var left = alpha == 1f ? plan.Left : Array.ConvertAll(plan.Left, v => v * alpha);
        var graph = c.Node.Graph;
        var p = graph.AddInitializer(TensorCodec.Create(c.Weight.Name + "_svd_a", [c.Rows, plan.Rank], left, DataType(c)));
        var q = graph.AddInitializer(TensorCodec.Create(c.Weight.Name + "_svd_b", [plan.Rank, c.Cols], plan.Right, DataType(c)));
        return (p, q);
    }

    private static int DataType(FactorizationCandidate c) => PassContext.ConstantTensor(c.Weight)!.DataType;

    // Ŵ in the stored layout (transposed back for Gemm transB).
    private static float[] Stored(MatrixCandidate c, float[] view)
    {
        if (!c.Transposed)
        {
            return view;
        }

        var stored = new float[view.Length];
        MatrixOps.Transpose(view, c.Rows, c.Cols, stored);
        return stored;
    }
}
