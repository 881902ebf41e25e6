using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxFactorize.Decomposition;
using OnnxFactorize.ModelGen;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Support;
using static OnnxFactorize.Tests.Graph.GraphBuilder;

namespace OnnxFactorize.Tests.Passes;

public class ConvFactorizationPassTests
{
    private static FactorizeOptions Options(RankPolicy policy, params string[] methods) =>
        new() { RankPolicy = policy, Methods = methods.Length == 0 ? ["auto"] : methods };

    [Fact]
    public void Decision_counts_match_hand_computed_formulas_for_every_method()
    {
        // C_out 8, C_in 6, 3×3, input 10×12, pads 1: output 10×12 (120 positions); rank 2 everywhere.
        var model = ConvModels.Single(8, 6, [3, 3], [10, 12], bias: true, seed: 1, Ints("pads", 1, 1, 1, 1));
        var before = 2L * 8 * 6 * 9 * 120;
        var expected = new Dictionary<string, (long Params, long Flops)>
        {
            ["tucker2"] = (6 * 2 + 2 * 2 * 9 + 2 * 8, 2L * ((6 * 2 * 120) + (2 * 2 * 9 * 120) + (2 * 8 * 120))),
            ["spatial-svd"] = (2 * ((6 * 3) + (8 * 3)), 2L * ((2 * 6 * 3 * 120) + (8 * 2 * 3 * 120))),
            ["depthwise"] = ((6 * 2 * 9) + (8 * 6 * 2), 2L * 120 * ((6 * 2 * 9) + (8 * 6 * 2))),
        };
        foreach (var (method, (parameters, flops)) in expected)
        {
            var d = Factorizer.Run(model, Options(RankPolicy.Fixed(2), method)).Decisions.Single();
            Assert.Equal(DecisionStatus.Factorized, d.Status);
            Assert.Equal(method, d.Method);
            Assert.Equal(8 * 6 * 9, d.ParamsBefore);
            Assert.Equal(before, d.FlopsBefore);
            Assert.Equal(parameters, d.ParamsAfter);
            Assert.Equal(flops, d.FlopsAfter);
            Assert.Equal(2, d.Rank);
            Assert.InRange(d.WeightRelError, 1e-6, 1);
            Assert.NotEmpty(d.SingularValues);
        }

        var tucker = Factorizer.Run(model, Options(RankPolicy.Fixed(2), "tucker2")).Decisions.Single();
        Assert.Equal([2, 2], tucker.Ranks);

        // Break-even: spatial (18×24 matrix) 10; depthwise k(m+n) < mn with m = 8, n = 9: 4; Tucker equal ranks: 6r + 9r² + 8r < 432 → 6.
        Assert.Equal(10, Factorizer.Run(model, Options(RankPolicy.Fixed(2), "spatial-svd")).Decisions.Single().BreakEvenRank);
        Assert.Equal(4, Factorizer.Run(model, Options(RankPolicy.Fixed(2), "depthwise")).Decisions.Single().BreakEvenRank);
        Assert.Equal(6, tucker.BreakEvenRank);
    }

    [Fact]
    public void Spatial_svd_counts_the_first_conv_at_output_height_and_input_width()
    {
        // Stride 2, pads 1: 10×12 → 5×6; the k_h×1 conv produces 5×12.
        var model = ConvModels.Single(8, 6, [3, 3], [10, 12], bias: false, seed: 2, Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1));
        var d = Factorizer.Run(model, Options(RankPolicy.Fixed(2), "spatial-svd")).Decisions.Single();
        Assert.Equal(2L * 8 * 6 * 9 * 30, d.FlopsBefore);
        Assert.Equal((2L * 2 * 6 * 3 * 60) + (2L * 8 * 2 * 3 * 30), d.FlopsAfter);
    }

    [Fact]
    public void Pointwise_svd_counts_match_the_matrix_formula()
    {
        var model = ConvModels.Single(8, 6, [1, 1], [5, 7], bias: true, seed: 3);
        var d = Factorizer.Run(model, Options(RankPolicy.Fixed(2), "svd")).Decisions.Single();
        Assert.Equal(DecisionStatus.Factorized, d.Status);
        Assert.Equal(2L * (8 + 6), d.ParamsAfter);
        Assert.Equal(2L * 2 * (8 + 6) * 35, d.FlopsAfter);
        Assert.Equal(RankSelection.BreakEvenRank(8, 6), d.BreakEvenRank);
    }

    [Fact]
    public void Auto_holds_every_method_to_the_energy_error_and_picks_the_fewest_flops()
    {
        var model = ConvModels.Single(32, 24, [3, 3], [12, 12], bias: true, seed: 4, Ints("pads", 1, 1, 1, 1));
        var auto = Factorizer.Run(model, Options(RankPolicy.Energy(0.99))).Decisions.Single();
        Assert.True(auto.Status == DecisionStatus.Factorized, auto.Reason);
        Assert.InRange(auto.WeightRelError, 0, Math.Sqrt(0.01) + 1e-6);
        Assert.Contains("chose " + auto.Method, auto.Reason);
        foreach (var method in new[] { "tucker2", "spatial-svd", "depthwise" })
        {
            // The same method, held to the same error, cannot be cheaper than what auto picked.
            var single = Factorizer.Run(model, Options(RankPolicy.Energy(0.99)),
                rules: [ConvModels.Saving(method)]).Decisions.Single();
            if (single.Status == DecisionStatus.Factorized)
            {
                Assert.InRange(single.WeightRelError, 0, 0.1 + 1e-6);
                Assert.True(auto.FlopsAfter <= single.FlopsAfter, $"{auto.Method} {auto.FlopsAfter} vs {method} {single.FlopsAfter}");
            }
        }
    }

    [Fact]
    public void Tucker2_with_vbmf_ranks_factorizes_a_low_rank_kernel_and_runs()
    {
        var model = ConvModels.Single(32, 24, [3, 3], [12, 12], bias: true, seed: 13, Ints("pads", 1, 1, 1, 1));
        var result = Factorizer.Run(model, Options(RankPolicy.Energy(0.99), "tucker2") with { TuckerRanks = TuckerRankEstimate.Vbmf });
        var d = result.Decisions.Single();
        Assert.True(d.Status == DecisionStatus.Factorized, d.Reason);
        Assert.Contains("EVBMF", d.Reason);
        Assert.All(d.Ranks, r => Assert.InRange(r, 1, 24));
        Assert.InRange(ConvModels.RelativeL2(ConvModels.Run(model, 4), ConvModels.Run(result.Model, 4)), 0, 0.3);
    }

    [Theory]
    [InlineData(2, 4, "grouped conv (group = 2)")]
    [InlineData(8, 1, "depthwise conv")]
    public void Grouped_and_depthwise_convs_are_skipped_with_a_reason(int group, int inPerGroup, string reason)
    {
        var model = ConvModels.Single(8, inPerGroup, [3, 3], [6, 6], bias: false, seed: 5, Int("group", group));
        var d = Factorizer.Run(model, Options(RankPolicy.Fixed(1))).Decisions.Single();
        Assert.Equal(DecisionStatus.Skipped, d.Status);
        Assert.Contains(reason, d.Reason);
    }

    [Fact]
    public void Conv3d_kernel_shape_mismatch_and_no_saving_are_skipped_with_reasons()
    {
        var conv3d = ConvModels.Single(4, 4, [3, 3, 3], [5, 5, 5], bias: false, seed: 6);
        Assert.Contains("Conv3d", Factorizer.Run(conv3d, Options(RankPolicy.Fixed(1))).Decisions.Single().Reason);

        var mismatch = ConvModels.Single(4, 4, [3, 3], [5, 5], bias: false, seed: 7, Ints("kernel_shape", 3, 2));
        Assert.Contains("kernel_shape", Factorizer.Run(mismatch, Options(RankPolicy.Fixed(1))).Decisions.Single().Reason);

        var tiny = ConvModels.Single(2, 2, [1, 1], [5, 5], bias: false, seed: 8);
        var d = Factorizer.Run(tiny, Options(RankPolicy.Fixed(1), "svd")).Decisions.Single();
        Assert.Equal(DecisionStatus.Skipped, d.Status);
        Assert.Contains("break-even", d.Reason);
        Assert.Equal(d.ParamsBefore, d.ParamsAfter);

        var result = Factorizer.Run(tiny, Options(RankPolicy.Fixed(1)));
        Assert.Same(tiny, result.Model);
    }

    [Fact]
    public void Overridable_and_non_finite_weights_are_skipped()
    {
        var proto = ConvModels.Single(8, 8, [3, 3], [6, 6], bias: false, seed: 9).Proto.Clone();
        proto.Graph.Input.Add(FloatInfo("W", 8, 8, 3, 3));
        var d = Factorizer.Run(OnnxModel.FromProto(proto), Options(RankPolicy.Fixed(1))).Decisions.Single();
        Assert.Contains("overridden", d.Reason.Replace("override it", "overridden", StringComparison.Ordinal));

        var nan = ConvModels.Single(8, 8, [3, 3], [6, 6], bias: false, seed: 9).Proto.Clone();
        var values = TensorCodec.ReadFloats(nan.Graph.Initializer[0]);
        values[3] = float.NaN;
        nan.Graph.Initializer[0] = TensorCodec.Create("W", [8, 8, 3, 3], values);
        Assert.Contains("NaN", Factorizer.Run(OnnxModel.FromProto(nan), Options(RankPolicy.Fixed(1))).Decisions.Single().Reason);
    }

    [Fact]
    public void Factors_keep_the_weight_element_type()
    {
        var model = ConvModels.Single(8, 8, [3, 3], [6, 6], bias: true, seed: 10, dataType: (int)TensorProto.Types.DataType.Float16);
        var result = Factorizer.Run(model, Options(RankPolicy.Fixed(2), "tucker2"));
        Assert.Equal(DecisionStatus.Factorized, result.Decisions.Single().Status);
        var initializers = result.Model.Proto.Graph.Initializer;
        Assert.All(initializers, t => Assert.Equal((int)TensorProto.Types.DataType.Float16, t.DataType));
        var (before, after) = (ConvModels.Run(model, 1), ConvModels.Run(result.Model, 1));
        Assert.True(ConvModels.RelativeL2(before, after) < 1.5, "fp16 model runs");
    }

    [Theory]
    [InlineData("cnn.onnx", "tucker2")]
    [InlineData("cnn.onnx", "spatial-svd")]
    [InlineData("cnn.onnx", "depthwise")]
    [InlineData("conv1d.onnx", "tucker2")]
    [InlineData("conv1d.onnx", "depthwise")]
    [InlineData("if_subgraph.onnx", "tucker2")]
    [InlineData("if_subgraph.onnx", "spatial-svd")]
    [InlineData("if_subgraph.onnx", "depthwise")]
    public void Committed_models_factorized_at_full_rank_match_the_original_in_onnx_runtime(string file, string method)
    {
        var model = OnnxModel.Load(Path.Combine(RepoPaths.TestModels, file));
        var options = Options(RankPolicy.Fixed(100_000), method) with { Ops = ["Conv"] };
        var result = Factorizer.Run(model, options, rules: [ConvModels.Exact(method), new ConvPointwiseSvdPass { RequireSavings = false }]);
        Assert.True(result.Changed);
        Assert.All(result.Decisions.Where(d => d.Status == DecisionStatus.Factorized), d => Assert.InRange(d.WeightRelError, 0, 1e-5));
        Assert.Contains(result.Decisions, d => d.Method == method && d.Status == DecisionStatus.Factorized);
        if (file == "if_subgraph.onnx")
        {
            Assert.Contains(result.Decisions, d => d.GraphPath.Length > 0 && d.Status == DecisionStatus.Factorized);
        }

        foreach (var cond in new[] { true, false })
        {
            var before = ConvModels.Run(model, 2, cond);
            var after = ConvModels.Run(result.Model, 2, cond);
            ConvModels.AssertClose(before, after, absolute: 1e-4, relative: 1e-4);
        }
    }

    [Theory]
    [InlineData("cnn.onnx")]
    [InlineData("conv1d.onnx")]
    [InlineData("if_subgraph.onnx")]
    public void Committed_models_factorized_by_auto_run_and_stay_close(string file)
    {
        var model = OnnxModel.Load(Path.Combine(RepoPaths.TestModels, file));
        var result = Factorizer.Run(model, Options(RankPolicy.Energy(0.95)) with { Ops = ["Conv"] });
        Assert.True(result.Changed, string.Join("\n", result.Decisions.Select(d => $"{d.NodeName}: {d.Reason}")));
        Assert.All(result.Decisions.Where(d => d.Status == DecisionStatus.Factorized), d => Assert.InRange(d.WeightRelError, 0, Math.Sqrt(0.05) + 1e-6));
        foreach (var cond in new[] { true, false })
        {
            var error = ConvModels.RelativeL2(ConvModels.Run(model, 3, cond), ConvModels.Run(result.Model, 3, cond));
            Assert.InRange(error, 0, 0.5);
        }
    }
}

/// <summary>Builds one-Conv models and runs models in ONNX Runtime from their bytes.</summary>
internal static class ConvModels
{
    /// <summary>X[1, C_in·group, spatial…] → Conv (weight with a decaying spectrum, optional bias) → Y.</summary>
    public static OnnxModel Single(int outChannels, int inPerGroup, long[] kernel, long[] inputSpatial, bool bias, int seed,
        params AttributeProto[] attributes) => Single(outChannels, inPerGroup, kernel, inputSpatial, bias, seed, (int)TensorProto.Types.DataType.Float, attributes);

    public static OnnxModel Single(int outChannels, int inPerGroup, long[] kernel, long[] inputSpatial, bool bias, int seed, int dataType,
        params AttributeProto[] attributes)
    {
        var group = attributes.FirstOrDefault(a => a.Name == "group")?.I ?? 1;
        var k = (int)kernel.Aggregate(1L, (a, b) => a * b);
        var weights = LowRankWeights.Matrix(new SeededRandom((ulong)seed), outChannels, inPerGroup * k, tau: 3, noise: 1e-3, scale: 1.0 / Math.Sqrt(k));
        var graph = new GraphProto { Name = "conv" };
        graph.Input.Add(Info("X", dataType, [1, inPerGroup * group, .. inputSpatial]));
        graph.Output.Add(new ValueInfoProto { Name = "Y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = dataType } } });
        graph.Initializer.Add(Tensor("W", [outChannels, inPerGroup, .. kernel], weights, dataType));
        var inputs = new List<string> { "X", "W" };
        if (bias)
        {
            graph.Initializer.Add(Tensor("B", [outChannels], Random(outChannels, seed + 1000, 0.1f), dataType));
            inputs.Add("B");
        }

        graph.Node.Add(Node("Conv", "conv", [.. inputs], ["Y"], attributes));
        return OnnxModel.FromProto(Model(graph));
    }

    /// <summary>The method's own pass, told to keep the rank asked for even without savings (for exactness tests).</summary>
    /// <summary>The method's rule as the tool uses it (savings required); with auto options it plans as auto does.</summary>
    public static ConvMethodPass Saving(string method) => method switch
    {
        "tucker2" => new ConvTucker2Pass(),
        "spatial-svd" => new ConvSpatialSvdPass(),
        "depthwise" => new ConvDepthwiseSeparablePass(),
        _ => new ConvPointwiseSvdPass(),
    };

    public static ConvMethodPass Exact(string method) => method switch
    {
        "tucker2" => new ConvTucker2Pass { RequireSavings = false },
        "spatial-svd" => new ConvSpatialSvdPass { RequireSavings = false },
        "depthwise" => new ConvDepthwiseSeparablePass { RequireSavings = false },
        "svd" => new ConvPointwiseSvdPass { RequireSavings = false },
        _ => throw new ArgumentException(method, nameof(method)),
    };

    /// <summary>Runs the model's bytes in ORT on seeded inputs (bool inputs take <paramref name="cond"/>); all outputs concatenated.</summary>
    public static float[] Run(OnnxModel model, int seed, bool cond = true)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model.ToBytes(), options);
        var random = new Random(seed);
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            foreach (var (name, meta) in session.InputMetadata)
            {
                var shape = meta.Dimensions.Select(d => (long)Math.Max(d, 1)).ToArray();
                var count = (int)shape.Aggregate(1L, (a, b) => a * b);
                var data = Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                inputs[name] = meta.ElementDataType switch
                {
                    TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(data, shape),
                    TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(data.Select(v => (Float16)v).ToArray(), shape),
                    TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(cond, count).ToArray(), shape),
                    var other => throw new NotSupportedException($"input '{name}' has element type {other}"),
                };
            }

            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputs, session.OutputNames);
            var result = new List<float>();
            foreach (var value in outputs)
            {
                result.AddRange(value.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float16
                    ? value.GetTensorDataAsSpan<Float16>().ToArray().Select(h => h.ToFloat())
                    : value.GetTensorDataAsSpan<float>().ToArray());
            }

            return [.. result];
        }
        finally
        {
            foreach (var value in inputs.Values)
            {
                value.Dispose();
            }
        }
    }

    public static double RelativeL2(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, norm = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            diff += ((double)expected[i] - actual[i]) * ((double)expected[i] - actual[i]);
            norm += (double)expected[i] * expected[i];
        }

        return norm > 0 ? Math.Sqrt(diff / norm) : Math.Sqrt(diff);
    }

    public static void AssertClose(float[] expected, float[] actual, double absolute, double relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = expected.Max(v => Math.Abs(v));
        for (var i = 0; i < expected.Length; i++)
        {
            var tolerance = absolute + relative * scale;
            if (Math.Abs(expected[i] - actual[i]) > tolerance)
            {
                Assert.Fail($"output {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance:G3}, max |y| {scale:G3})");
            }
        }
    }
}
