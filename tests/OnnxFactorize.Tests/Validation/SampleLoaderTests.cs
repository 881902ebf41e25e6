using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

public sealed class SampleLoaderTests : IDisposable
{
    private static readonly ModelInput Ids = new("input_ids", TensorElementType.Int64, [-1, -1], ["batch", "seq"]);
    private static readonly ModelInput Mask = new("mask", TensorElementType.Float, [-1, 4], ["", ""]);
    private static readonly ModelInput Image = new("x", TensorElementType.Float, [1, 3], ["", ""]);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Every_unbound_dim_is_named_with_its_input_in_one_line()
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => SampleLoader.ResolveShapes([Ids, Mask], new Dictionary<string, long> { ["seq"] = 8 }));

        Assert.Equal("Unbound dims: 'batch' (axis 0 of input 'input_ids'); axis 0 of input 'mask' (bind with mask:0=N); bind each with --dim name=value, e.g. --dim batch=1 (MSBuild: Dims=\"batch=1\").", e.Message);
    }

    [Fact]
    public void Dims_bind_by_name_and_by_input_axis()
    {
        var shapes = SampleLoader.ResolveShapes([Ids, Mask], InputOptions.ParseDims(["batch=2", "seq=128", "mask:0=3"]));

        Assert.Equal(new long[] { 2, 128 }, shapes[0]);
        Assert.Equal(new long[] { 3, 4 }, shapes[1]);
    }

    [Theory]
    [InlineData("batch")]
    [InlineData("batch=0")]
    [InlineData("=3")]
    public void Bad_dim_bindings_are_named(string binding)
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => InputOptions.ParseDims([binding]));
        Assert.Contains($"'{binding}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_inputs_are_seeded_and_respect_int_ranges()
    {
        var options = new InputOptions { Dims = InputOptions.ParseDims(["batch=4", "seq=50", "mask:0=4"]), Seed = 7, IntRanges = new Dictionary<string, IntRange> { ["input_ids"] = new(100, 103) } };
        var a = SampleLoader.Generate([Ids, Mask], options)[0];
        var b = SampleLoader.Generate([Ids, Mask], options)[0];

        Assert.Equal(a.Inputs[0].ToDoubles(), b.Inputs[0].ToDoubles());
        Assert.All((long[])a.Inputs[0].Data, v => Assert.InRange(v, 100, 102));
        var floats = a.Inputs[1].ToDoubles();
        Assert.InRange(floats.Average(), -1, 1);
        Assert.Contains(floats, v => v < 0);
    }

    [Fact]
    public void Wrong_shape_is_reported_with_the_expected_shape()
    {
        var sample = new Sample { Source = "s", Inputs = [TensorData.Create("x", [1, 4], new float[4])] };
        var e = Assert.Throws<OnnxFactorizeException>(() => SampleLoader.Bind(sample, [Image]));
        Assert.Equal("s: input 'x' has shape [1,4] but the model expects float32[1,3].", e.Message);
    }

    [Fact]
    public void Wrong_dtype_is_reported_with_the_expected_type()
    {
        var sample = new Sample { Source = "s", Inputs = [TensorData.Create("x", [1, 3], new double[3])] };
        var e = Assert.Throws<OnnxFactorizeException>(() => SampleLoader.Bind(sample, [Image]));
        Assert.Equal("s: input 'x' is float64[1,3] but the model expects float32[1,3].", e.Message);
    }

    [Fact]
    public void Missing_input_is_named_with_its_expected_shape()
    {
        var sample = new Sample { Source = "s", Inputs = [TensorData.Create("input_ids", [1, 5], new long[5])] };
        var e = Assert.Throws<OnnxFactorizeException>(() => SampleLoader.Bind(sample, [Ids, Mask]));
        Assert.Equal("s: missing input 'mask' (expected float32[?,4]).", e.Message);
    }

    [Fact]
    public void Unnamed_files_bind_by_position_and_named_ones_by_name()
    {
        var sample = new Sample { Source = "s", Inputs = [TensorData.Create("mask", [2, 4], new float[8]), TensorData.Create("input_1", [2, 5], new long[10])] };
        var bound = SampleLoader.Bind(sample, [Ids, Mask]);

        Assert.Equal(["input_ids", "mask"], bound.Select(t => t.Name));
        Assert.Equal(new long[] { 2, 5 }, bound[0].Shape);
    }

    [Fact]
    public void Folder_of_test_data_sets_gives_one_sample_each_in_numeric_order()
    {
        foreach (var i in new[] { 0, 2, 10 })
        {
            var set = Directory.CreateDirectory(_dir.File($"test_data_set_{i}")).FullName;
            TensorFiles.WritePb(Path.Combine(set, "input_0.pb"), TensorData.Create("x", [1, 3], new float[] { i, 0, 0 }));
            TensorFiles.WriteNpy(Path.Combine(set, "output_0.npy"), TensorData.Create("y", [1], new float[] { i }));
        }

        var samples = SampleLoader.Load(_dir.Path);

        Assert.Equal([0.0, 2, 10], samples.Select(s => s.Inputs[0].ToDoubles()[0]));
        Assert.All(samples, s => Assert.Single(s.ExpectedOutputs));
    }
}
