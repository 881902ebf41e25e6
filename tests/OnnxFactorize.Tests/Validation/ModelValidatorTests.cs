using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

public sealed class ModelValidatorTests : IDisposable
{
    private static readonly LatencyOptions FastLatency = new() { WarmupRuns = 2, Runs = 15, IntraOpThreads = 1 };
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ValidationOptions Options(ValidationThresholds? thresholds = null, LatencyOptions? latency = null, InputOptions? inputs = null) => new()
    {
        Inputs = inputs ?? new InputOptions { Dims = new Dictionary<string, long> { ["batch"] = 8 }, Seed = 3, RandomSamples = 2 },
        Latency = latency,
        Thresholds = thresholds ?? new ValidationThresholds(),
    };

    [Fact]
    public void A_model_compared_with_itself_has_zero_error_and_speedup_near_one()
    {
        var path = TestModels.Save(TestModels.Gemm(64, 32, "batch"), _dir.File("m.onnx"));
        var r = ModelValidator.Compare(path, path, Options(new ValidationThresholds { MaxRelL2Error = 0, MaxAbsError = 0, MinCosine = 0.999999, MinTop1Agreement = 1 }, FastLatency));

        var y = Assert.Single(r.Outputs);
        Assert.Equal(0, y.MaxAbsError);
        Assert.Equal(0, y.RelL2Error);
        Assert.Equal(1, y.Cosine, 9);
        Assert.Equal(1, y.Classification!.Top1Agreement);
        Assert.Equal(16, y.Classification.Rows);
        Assert.Equal(2, r.SampleCount);
        Assert.InRange(r.Latency!.Speedup, 0.5, 2);
        Assert.True(r.Passed);
        Assert.Equal(64 * 32 + 32, r.Original.Parameters);
        Assert.Equal(2L * 8 * 32 * 64, r.Original.Flops);
        Assert.Equal(new FileInfo(path).Length, r.Optimized.FileBytes);
    }

    [Fact]
    public void A_perturbed_copy_fails_the_thresholds_it_should_and_passes_loose_ones()
    {
        var original = TestModels.Save(TestModels.Gemm(64, 32, "batch"), _dir.File("a.onnx"));
        var perturbed = TestModels.Save(TestModels.Gemm(64, 32, "batch", perturb: 0.2f), _dir.File("b.onnx"));

        var strict = ModelValidator.Compare(original, perturbed, Options(new ValidationThresholds { MaxRelL2Error = 0.01, MaxAbsError = 0.05, MinCosine = 0.9 }));
        var loose = ModelValidator.Compare(original, perturbed, Options(new ValidationThresholds { MaxRelL2Error = 0.5, MinCosine = 0.9 }));

        Assert.False(strict.Passed);
        Assert.Equal(["maxRelL2Error", "maxAbsError"], strict.Failures.Select(f => f.Threshold));
        Assert.All(strict.Failures, f => Assert.Equal("y", f.Output));
        Assert.InRange(strict.Outputs[0].RelL2Error, 0.01, 0.5);
        Assert.True(loose.Passed);
        Assert.Null(loose.Latency);
    }

    [Fact]
    public void Labels_give_top1_accuracy_of_each_model_over_all_samples()
    {
        var original = TestModels.Save(TestModels.Gemm(16, 4, "batch"), _dir.File("a.onnx"));
        var perturbed = TestModels.Save(TestModels.Gemm(16, 4, "batch", perturb: 3f), _dir.File("b.onnx"));
        var inputs = _dir.File("inputs");
        var labels = new List<long>();
        var rng = new Random(11);
        for (var s = 0; s < 3; s++)
        {
            var set = Directory.CreateDirectory(Path.Combine(inputs, $"test_data_set_{s}")).FullName;
            TensorFiles.WriteNpy(Path.Combine(set, "input_0.npy"), TensorData.Create("x", [5, 16], Enumerable.Range(0, 80).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray()));
        }

        // Labels = the original model's own predictions, so its accuracy is exactly 1 and the drop is 100·(1 − agreement).
        var reference = ModelValidator.Compare(original, original, Options(inputs: new InputOptions { Path = inputs }));
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(original))
        using (var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions())
        {
            foreach (var sample in SampleLoader.Load(inputs))
            {
                var y = ModelValidator.Run(session, SampleLoader.Bind(sample, ModelInput.FromSession(session)), ["y"], runOptions, original)[0].ToDoubles();
                labels.AddRange(y.Chunk(4).Select(row => (long)Array.IndexOf(row, row.Max())));
            }
        }

        TensorFiles.WriteNpy(_dir.File("labels.npy"), TensorData.Create("labels", [labels.Count], labels.ToArray()));
        var r = ModelValidator.Compare(original, perturbed, Options(new ValidationThresholds { MaxAccuracyDrop = 0 }, inputs: new InputOptions { Path = inputs, LabelsPath = _dir.File("labels.npy") }));
        var c = r.Outputs[0].Classification!;

        Assert.Equal(3, r.SampleCount);
        Assert.Equal(15, c.Rows);
        Assert.Equal(1.0, c.OriginalAccuracy);
        Assert.Equal(c.Top1Agreement, c.OptimizedAccuracy!.Value, 12);
        Assert.True(c.Top1Agreement < 1, "perturbation should flip some predictions");
        Assert.Equal(100 * (1 - c.Top1Agreement), c.AccuracyDropPoints!.Value, 9);
        Assert.Equal("maxAccuracyDrop", Assert.Single(r.Failures).Threshold);
        Assert.Equal(1.0, reference.Outputs[0].Classification!.Top1Agreement);
    }

    [Fact]
    public void Too_few_labels_are_reported()
    {
        var path = TestModels.Save(TestModels.Gemm(4, 3, "batch"), _dir.File("m.onnx"));
        TensorFiles.WriteNpy(_dir.File("labels.npy"), TensorData.Create("labels", [3], new long[] { 0, 1, 2 }));

        var e = Assert.Throws<OnnxFactorizeException>(() => ModelValidator.Compare(path, path, Options(inputs: new InputOptions { Dims = new Dictionary<string, long> { ["batch"] = 8 }, LabelsPath = _dir.File("labels.npy") })));
        Assert.Contains("3 labels, but output 'y' needs at least 8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unbound_dims_stop_validation_with_the_dim_and_input_named()
    {
        var path = TestModels.Save(TestModels.Gemm(4, 3, "batch"), _dir.File("m.onnx"));
        var e = Assert.Throws<OnnxFactorizeException>(() => ModelValidator.Compare(path, path, Options(inputs: new InputOptions())));
        Assert.StartsWith("Unbound dims: 'batch' (axis 0 of input 'x')", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_file_with_the_wrong_shape_is_reported()
    {
        var path = TestModels.Save(TestModels.Gemm(4, 3, "batch"), _dir.File("m.onnx"));
        TensorFiles.WriteNpy(_dir.File("x.npy"), TensorData.Create("x", [2, 5], new float[10]));

        var e = Assert.Throws<OnnxFactorizeException>(() => ModelValidator.Compare(path, path, Options(inputs: new InputOptions { Path = _dir.File("x.npy") })));
        Assert.EndsWith("input 'x' has shape [2,5] but the model expects float32[batch,4].", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Golden_outputs_stored_as_npy_are_compared_and_a_wrong_one_fails()
    {
        var path = TestModels.Save(TestModels.Gemm(4, 3, 1), _dir.File("m.onnx"));
        var set = Directory.CreateDirectory(_dir.File("golden/test_data_set_0")).FullName;
        var x = TensorData.Create("x", [1, 4], new float[] { 1, 2, 3, 4 });
        TensorFiles.WritePb(Path.Combine(set, "input_0.pb"), x);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
        using var runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        var y = ModelValidator.Run(session, [x], ["y"], runOptions, path)[0];
        TensorFiles.WriteNpy(Path.Combine(set, "output_0.npy"), y);

        var good = ModelValidator.CompareToGolden(path, _dir.File("golden"), Options(new ValidationThresholds { MaxAbsError = 1e-6 }));
        var shifted = ((float[])y.Data).Select(v => v + 0.5f).ToArray();
        TensorFiles.WriteNpy(Path.Combine(set, "output_0.npy"), TensorData.Create("y", y.Shape, shifted));
        var bad = ModelValidator.CompareToGolden(path, _dir.File("golden"), Options(new ValidationThresholds { MaxAbsError = 1e-6 }));

        Assert.True(good.Passed);
        Assert.Equal(0.5, bad.Outputs[0].MaxAbsError, 5);
        Assert.StartsWith("output 'y': maxAbsError 0.5 is above the limit maxAbsError 1E-06", Assert.Single(bad.Failures).Message, StringComparison.Ordinal);
    }
}
