using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using static OnnxFactorize.Tests.Graph.GraphBuilder;

namespace OnnxFactorize.Tests.Passes;

public class ConvMethodPassTests
{
    /// <summary>Attribute combinations: name, kernel, input spatial size, bias, attributes.</summary>
    public static IEnumerable<(string Name, long[] Kernel, long[] Input, bool Bias, AttributeProto[] Attributes)> Cases2d() =>
    [
        ("pads 1, kernel_shape", [3, 3], [9, 11], true, [Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1)]),
        ("stride 2, asymmetric pads", [3, 3], [9, 11], true, [Ints("strides", 2, 2), Ints("pads", 0, 1, 1, 2)]),
        ("dilation 2, no bias", [3, 3], [9, 11], false, [Ints("dilations", 2, 2), Ints("pads", 2, 1, 2, 0)]),
        ("SAME_UPPER stride 2, no kernel_shape", [3, 3], [9, 11], true, [String("auto_pad", "SAME_UPPER"), Ints("strides", 2, 2)]),
        ("SAME_LOWER stride (2,3), 3×5 kernel", [3, 5], [10, 11], true, [String("auto_pad", "SAME_LOWER"), Ints("strides", 2, 3)]),
        ("VALID 2×3, stride (1,2), dilation (2,1)", [2, 3], [9, 11], false, [String("auto_pad", "VALID"), Ints("strides", 1, 2), Ints("dilations", 2, 1)]),
        ("explicit NOTSET, strides (3,1), pads (2,0,1,2)", [5, 3], [12, 8], true, [String("auto_pad", "NOTSET"), Ints("strides", 3, 1), Ints("pads", 2, 0, 1, 2)]),
    ];

    public static IEnumerable<(string Name, long[] Kernel, long[] Input, bool Bias, AttributeProto[] Attributes)> Cases1d() =>
    [
        ("1d pads (1,2)", [3], [17], true, [Ints("pads", 1, 2)]),
        ("1d k=5 SAME_UPPER stride 2", [5], [17], true, [String("auto_pad", "SAME_UPPER"), Ints("strides", 2)]),
        ("1d VALID dilation 2, no bias", [3], [17], false, [String("auto_pad", "VALID"), Ints("dilations", 2), Ints("kernel_shape", 3)]),
    ];

    public static IEnumerable<(string Name, long[] Kernel, long[] Input, bool Bias, AttributeProto[] Attributes)> CasesPointwise() =>
    [
        ("1×1", [1, 1], [7, 9], true, []),
        ("1×1 stride 2, asymmetric pads, no bias", [1, 1], [7, 9], false, [Ints("strides", 2, 2), Ints("pads", 1, 0, 0, 1)]),
        ("1×1 SAME_LOWER stride 2", [1, 1], [7, 9], true, [String("auto_pad", "SAME_LOWER"), Ints("strides", 2, 2), Ints("kernel_shape", 1, 1)]),
        ("1d k=1 stride 2", [1], [15], true, [Ints("strides", 2)]),
    ];

    public static TheoryData<string, string> MethodCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in Cases2d())
        {
            data.Add("tucker2", c.Name);
            data.Add("spatial-svd", c.Name);
            data.Add("depthwise", c.Name);
        }

        foreach (var c in Cases1d())
        {
            data.Add("tucker2", c.Name);
            data.Add("depthwise", c.Name);
        }

        foreach (var c in CasesPointwise())
        {
            data.Add("svd", c.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(MethodCases))]
    public void At_full_rank_the_factorized_conv_matches_the_original_in_onnx_runtime(string method, string caseName)
    {
        var model = Build(caseName, seed: 11);
        var result = Factorizer.Run(model, new FactorizeOptions { RankPolicy = RankPolicy.Fixed(100_000), Methods = [method] }, rules: [ConvModels.Exact(method)]);
        var decision = result.Decisions.Single();
        Assert.Equal(DecisionStatus.Factorized, decision.Status);
        Assert.Equal(method, decision.Method);
        Assert.InRange(decision.WeightRelError, 0, 1e-5);
        Assert.True(result.Model.Proto.Graph.Node.Count >= 2);
        ConvModels.AssertClose(ConvModels.Run(model, 5), ConvModels.Run(result.Model, 5), absolute: 1e-4, relative: 1e-4);
    }

    [Theory]
    [MemberData(nameof(MethodCases))]
    public void At_reduced_rank_the_error_falls_as_the_rank_grows(string method, string caseName)
    {
        var model = Build(caseName, seed: 12);
        var expected = ConvModels.Run(model, 6);
        var previousWeight = double.PositiveInfinity;
        var previousOutput = double.PositiveInfinity;
        var full = int.MaxValue;
        for (var rank = 1; rank <= 6; rank++)
        {
            var result = Factorizer.Run(model, new FactorizeOptions { RankPolicy = RankPolicy.Fixed(rank), Methods = [method] }, rules: [ConvModels.Exact(method)]);
            var decision = result.Decisions.Single();
            if (decision.Rank >= full)
            {
                break;
            }

            full = decision.Rank < rank ? decision.Rank : int.MaxValue;
            var output = ConvModels.RelativeL2(expected, ConvModels.Run(result.Model, 6));

            // Weight error is monotone by Eckart–Young (and HOOI from nested HOSVD starts); output error on one input is
            // monotone up to float noise and the input's alignment with the dropped directions.
            Assert.True(decision.WeightRelError <= previousWeight + 1e-6, $"rank {rank}: weight error {decision.WeightRelError} > {previousWeight}");
            Assert.True(output <= (previousOutput * 1.05) + 1e-5, $"rank {rank}: output error {output} > {previousOutput}");
            previousWeight = decision.WeightRelError;
            previousOutput = output;
        }

        Assert.True(previousOutput < 0.5, $"largest tried rank still gives output error {previousOutput}");
    }

    private static global::OnnxFactorize.Onnx.OnnxModel Build(string caseName, int seed)
    {
        var c = Cases2d().Concat(Cases1d()).Concat(CasesPointwise()).Single(x => x.Name == caseName);
        return ConvModels.Single(7, 5, c.Kernel, c.Input, c.Bias, seed, c.Attributes);
    }
}
