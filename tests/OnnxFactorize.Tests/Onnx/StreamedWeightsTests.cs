using System.Text.Json;
using Google.Protobuf;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Optimization;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Validation;
using OnnxFactorize.Validation;
using static OnnxFactorize.Tests.Graph.GraphBuilder;
using static OnnxFactorize.Tests.Passes.PassTestKit;

namespace OnnxFactorize.Tests.Onnx;

/// <summary>Large weights stay on disk: read when a pass needs them, streamed file to file when a model is saved, and
/// never read for a shape run; the round-trip guarantees hold all the same.</summary>
public sealed class StreamedWeightsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // X[4,64] · W[64,256] (rank 8) + b → Y; W is large enough to be read lazily, b is not.
    private static ModelProto LowRankModel()
    {
        var g = new GraphProto { Name = "g", DocString = "graph doc" };
        g.Input.Add(FloatInfo("X", 4, 64));
        g.Output.Add(FloatInfo("Y", 4, 256));
        var w = Tensor("W", [64, 256], LowRank(64, 256, 8, 3));
        w.DocString = "after raw_data";
        g.Initializer.Add(w);
        g.Initializer.Add(Tensor("b", [256], Random(256, 4, 0.1f)));
        g.Node.Add(Node("MatMul", "mm", ["X", "W"], ["H"]));
        g.Node.Add(Node("Add", "add", ["H", "b"], ["Y"]));
        var model = Model(g);
        model.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "test" });
        return model;
    }

    // The tensor with a field this onnx.proto does not know (number 100), which must survive a load and save.
    private static ModelProto WithUnknownField(ModelProto model)
    {
        var bytes = model.Graph.Initializer[0].ToByteArray().Concat(new byte[] { 0xA0, 0x06, 0x2A }).ToArray();
        model.Graph.Initializer[0] = TensorProto.Parser.ParseFrom(bytes);
        return model;
    }

    [Fact]
    public void A_large_inline_initializer_is_left_in_the_file_until_read()
    {
        var path = _dir.File("m.onnx");
        File.WriteAllBytes(path, LowRankModel().ToByteArray());
        var model = OnnxModel.Load(path);
        var w = model.Proto.Graph.Initializer.Single(t => t.Name == "W");
        var b = model.Proto.Graph.Initializer.Single(t => t.Name == "b");
        Assert.False(w.HasRawData);
        Assert.Equal("m.onnx", ExternalData.Entry(w, "location"));
        Assert.True(b.HasRawData);

        // Change W's bytes on disk after loading: the read sees the new values, so nothing was read at load.
        var offset = long.Parse(ExternalData.Entry(w, "offset")!, System.Globalization.CultureInfo.InvariantCulture);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.Position = offset;
            file.Write(BitConverter.GetBytes(42f));
        }

        Assert.Equal(42f, TensorCodec.ReadFloats(w, model.BaseDirectory, model.Name)[0]);
        Assert.Equal(LowRankModel().Graph.Initializer[0].RawData.Length, long.Parse(ExternalData.Entry(w, "length")!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Load_and_save_of_an_inline_model_gives_the_same_bytes_with_unknown_fields_and_fields_after_raw_data()
    {
        var original = WithUnknownField(LowRankModel()).ToByteArray();
        var path = _dir.File("in.onnx");
        File.WriteAllBytes(path, original);
        var model = OnnxModel.Load(path);
        model.Save(_dir.File("out/copy.onnx"));
        Assert.Equal(original, File.ReadAllBytes(_dir.File("out/copy.onnx")));
        Assert.False(File.Exists(_dir.File("out/copy.onnx.data")));
        Assert.Equal(original, model.ToBytes());
        Assert.Equal(original, File.ReadAllBytes(path));
    }

    [Fact]
    public void An_external_data_model_is_copied_byte_for_byte_and_an_inline_one_can_be_written_external_and_back()
    {
        var original = LowRankModel().ToByteArray();
        var inline = _dir.File("in.onnx");
        File.WriteAllBytes(inline, original);
        OnnxModel.Load(inline).Save(_dir.File("ext/m.onnx"), new SaveOptions { ExternalData = ExternalDataMode.Always });
        var external = OnnxModel.Load(_dir.File("ext/m.onnx"));
        Assert.Equal("m.onnx.data", ExternalData.Entry(external.Proto.Graph.Initializer[0], "location"));

        external.Save(_dir.File("copy/c.onnx"));
        Assert.Equal(File.ReadAllBytes(_dir.File("ext/m.onnx.data")), File.ReadAllBytes(_dir.File("copy/c.onnx.data")));
        var copy = OnnxModel.Load(_dir.File("copy/c.onnx"));
        Assert.Equal(TensorCodec.ReadFloats(LowRankModel().Graph.Initializer[0]), TensorCodec.ReadFloats(copy.Proto.Graph.Initializer[0], copy.BaseDirectory));

        // All inline again: the external bytes are streamed into the model file, giving the original back.
        copy.Save(_dir.File("back/m.onnx"), new SaveOptions { ExternalData = ExternalDataMode.Never });
        Assert.Equal(original, File.ReadAllBytes(_dir.File("back/m.onnx")));
    }

    [Fact]
    public void A_lazily_read_tensor_whose_bytes_disagree_with_its_dims_is_refused_at_load()
    {
        var model = LowRankModel();
        model.Graph.Initializer[0].Dims[1] = 255;
        var path = _dir.File("bad.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        var e = Assert.Throws<OnnxFactorizeException>(() => OnnxModel.Load(path));
        Assert.Contains("tensor 'W' holds 65536 bytes", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Shapes_are_measured_without_reading_the_weights()
    {
        // W (8192 elements) goes to the data file; b (512 bytes) is under the external-data threshold and stays inline.
        var g = new GraphProto { Name = "g" };
        g.Input.Add(FloatInfo("X", 4, 64));
        g.Output.Add(FloatInfo("Y", 4, 128));
        g.Initializer.Add(Tensor("W", [64, 128], LowRank(64, 128, 8, 3)));
        g.Initializer.Add(Tensor("b", [128], Random(128, 4, 0.1f)));
        g.Node.Add(Node("MatMul", "mm", ["X", "W"], ["H"]));
        g.Node.Add(Node("Add", "add", ["H", "b"], ["Y"]));
        var path = _dir.File("ext/m.onnx");
        OnnxModel.FromProto(Model(g)).Save(path, new SaveOptions { ExternalData = ExternalDataMode.Always });
        var loaded = OnnxModel.Load(path);
        Assert.True(ExternalData.IsExternal(loaded.Proto.Graph.Initializer[0]));

        // The data file is gone, yet the shape run works: the weights were replaced by ConstantOfShape.
        File.Delete(path + ".data");
        var shapes = ModelCost.ValueShapes(loaded);
        Assert.Equal([4L, 128L], shapes["H"]);
    }

    [Fact]
    public void A_factorized_external_data_model_loads_in_onnx_runtime_with_outputs_matching_and_reports_peak_memory()
    {
        var input = _dir.File("in/m.onnx");
        OnnxModel.FromProto(LowRankModel()).Save(input, new SaveOptions { ExternalData = ExternalDataMode.Always });
        var inputData = File.ReadAllBytes(input + ".data");
        var output = _dir.File("out/m.onnx");
        var report = Optimizer.Run(new OptimizeRequest
        {
            ModelPath = input,
            OutputPath = output,
            Factorize = new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.25) },
            JsonReportPath = _dir.File("out/report.json"),
        });
        Assert.Equal(1, report.FactorizedCount);
        Assert.True(File.Exists(output + ".data"));
        Assert.Equal(inputData, File.ReadAllBytes(input + ".data"));

        var result = ModelValidator.Compare(input, output, new ValidationOptions());
        Assert.True(result.Outputs.Single().RelL2Error < 1e-4, $"relative L2 error {result.Outputs.Single().RelL2Error}");

        using var json = JsonDocument.Parse(File.ReadAllText(_dir.File("out/report.json")));
        var peak = json.RootElement.GetProperty("summary").GetProperty("peakRssBytes").GetInt64();
        Assert.True(peak > 1 << 20 && peak == report.PeakRssBytes, $"peak {peak}");
    }
}
