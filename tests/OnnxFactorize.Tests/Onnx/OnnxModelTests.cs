using Google.Protobuf;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Tests.Graph;

namespace OnnxFactorize.Tests.Onnx;

public sealed class OnnxModelTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ofz-model-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static ModelProto SmallModel()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(GraphBuilder.FloatInfo("X", 2, 64));
        g.Initializer.Add(GraphBuilder.Tensor("W", [64, 32], GraphBuilder.Random(64 * 32, 3)));
        g.Initializer.Add(GraphBuilder.Tensor("b", [32], GraphBuilder.Random(32, 4)));
        g.Node.Add(GraphBuilder.Node("MatMul", "mm", ["X", "W"], ["H"]));
        g.Node.Add(GraphBuilder.Node("Add", "add", ["H", "b"], ["Y"]));
        g.Output.Add(GraphBuilder.FloatInfo("Y", 2, 32));
        var m = GraphBuilder.Model(g);
        m.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "test" });
        return m;
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private void AssertOneLineError(string path, string expectedFragment)
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => OnnxFactorize.Onnx.OnnxModel.Load(path).ToBytes());
        Assert.Contains(path, e.Message);
        Assert.Contains(expectedFragment, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void An_empty_file_is_a_one_line_error_naming_it() => AssertOneLineError(Write("empty.onnx", []), "empty");

    [Fact]
    public void Random_bytes_are_a_one_line_error_naming_the_file()
    {
        var bytes = new byte[4096];
        new Random(7).NextBytes(bytes);
        AssertOneLineError(Write("random.onnx", bytes), "ONNX model");
    }

    [Fact]
    public void A_truncated_model_is_a_one_line_error_naming_the_file()
    {
        var bytes = SmallModel().ToByteArray();
        AssertOneLineError(Write("truncated.onnx", bytes[..(bytes.Length / 2)]), "not a valid ONNX model");
    }

    [Fact]
    public void A_folder_or_missing_path_is_a_one_line_error()
    {
        AssertOneLineError(_folder, "folder");
        AssertOneLineError(Path.Combine(_folder, "missing.onnx"), "not found");
    }

    [Fact]
    public void Unknown_fields_survive_a_round_trip()
    {
        var bytes = SmallModel().ToByteArray();
        // Append field 99 (varint 42) to the model and field 77 (string) to nothing known: both must be written back.
        var extra = new byte[] { 0x98, 0x06, 42, 0xEA, 0x04, 3, (byte)'a', (byte)'b', (byte)'c' };
        var path = Write("unknown.onnx", [.. bytes, .. extra]);

        var saved = OnnxFactorize.Onnx.OnnxModel.Load(path).ToBytes();

        Assert.Equal(File.ReadAllBytes(path), saved);
    }

    [Fact]
    public void Saving_with_external_data_writes_aligned_offsets_and_loads_back_identical_values()
    {
        var original = OnnxFactorize.Onnx.OnnxModel.FromProto(SmallModel());
        var path = Path.Combine(_folder, "out", "ext.onnx");

        original.Save(path, new SaveOptions { ExternalData = ExternalDataMode.Always });

        var loaded = OnnxFactorize.Onnx.OnnxModel.Load(path);
        var w = loaded.Proto.Graph.Initializer.Single(t => t.Name == "W");
        Assert.True(ExternalData.IsExternal(w));
        Assert.Equal("ext.onnx.data", ExternalData.Entry(w, "location"));
        Assert.Equal(0, long.Parse(ExternalData.Entry(w, "offset")!, System.Globalization.CultureInfo.InvariantCulture) % ExternalData.Alignment);
        Assert.False(ExternalData.IsExternal(loaded.Proto.Graph.Initializer.Single(t => t.Name == "b")));
        Assert.Equal(TensorCodec.ReadFloats(original.Proto.Graph.Initializer[0]), TensorCodec.ReadFloats(w, loaded.BaseDirectory));
        Assert.Equal(original.ToBytes(), loaded.ToBytes());

        // Saved again elsewhere with the default mode, it stays external and byte-identical.
        var again = Path.Combine(_folder, "again", "ext.onnx");
        loaded.Save(again);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(again));
        Assert.Equal(File.ReadAllBytes(path + ".data"), File.ReadAllBytes(again + ".data"));
    }

    [Fact]
    public void Saving_next_to_the_input_never_overwrites_the_inputs_data_file()
    {
        var path = Path.Combine(_folder, "src.onnx");
        OnnxFactorize.Onnx.OnnxModel.FromProto(SmallModel()).Save(path, new SaveOptions { ExternalData = ExternalDataMode.Always });
        var dataBefore = File.ReadAllBytes(path + ".data");

        OnnxFactorize.Onnx.OnnxModel.Load(path).Save(Path.Combine(_folder, "copy.onnx"));

        Assert.Equal(dataBefore, File.ReadAllBytes(path + ".data"));
        Assert.True(File.Exists(Path.Combine(_folder, "copy.onnx.data")));
    }

    [Fact]
    public void External_data_escaping_the_model_folder_is_refused()
    {
        var model = SmallModel();
        var w = model.Graph.Initializer[0];
        File.WriteAllBytes(Path.Combine(Path.GetDirectoryName(_folder)!, "outside.bin"), new byte[64 * 32 * 4]);
        ExternalDataPoint(w, "../outside.bin");
        var path = Write("escape.onnx", model.ToByteArray());

        AssertOneLineError(path, "outside the model's folder");
    }

    [Fact]
    public void External_data_through_a_symbolic_link_out_of_the_folder_is_refused()
    {
        var model = SmallModel();
        var target = Path.Combine(Path.GetDirectoryName(_folder)!, $"ofz-target-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(target, new byte[64 * 32 * 4]);
        File.CreateSymbolicLink(Path.Combine(_folder, "link.bin"), target);
        ExternalDataPoint(model.Graph.Initializer[0], "link.bin");
        var path = Write("link.onnx", model.ToByteArray());

        try
        {
            var e = Assert.Throws<OnnxFactorizeException>(() => TensorCodec.ReadFloats(OnnxFactorize.Onnx.OnnxModel.Load(path).Proto.Graph.Initializer[0], _folder, path));
            Assert.Contains("link", e.Message);
        }
        finally
        {
            File.Delete(target);
        }
    }

    [Fact]
    public void An_absolute_external_location_is_refused() =>
        AssertExternalError("/etc/passwd", "absolute path");

    [Fact]
    public void A_missing_external_file_is_a_one_line_error() =>
        AssertExternalError("nothere.bin", "missing");

    private void AssertExternalError(string location, string fragment)
    {
        var model = SmallModel();
        ExternalDataPoint(model.Graph.Initializer[0], location);
        AssertOneLineError(Write($"ext-{Guid.NewGuid():N}.onnx", model.ToByteArray()), fragment);
    }

    private static void ExternalDataPoint(TensorProto tensor, string location)
    {
        tensor.ClearRawData();
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
    }

    [Theory]
    [InlineData(TensorProto.Types.DataType.Float)]
    [InlineData(TensorProto.Types.DataType.Float16)]
    [InlineData(TensorProto.Types.DataType.Bfloat16)]
    [InlineData(TensorProto.Types.DataType.Double)]
    public void Float_tensors_read_back_what_was_written_in_their_own_type(TensorProto.Types.DataType type)
    {
        float[] values = [0f, 1f, -2.5f, 0.125f, 1000f, -0.0009765625f];
        var tensor = TensorCodec.Create("t", [2, 3], values, (int)type);

        Assert.Equal(values, TensorCodec.ReadFloats(tensor));
        Assert.Equal(values.Length * ElementType.SizeInBytes((int)type), tensor.RawData.Length);
    }

    [Fact]
    public void Typed_fields_are_read_like_raw_data()
    {
        var t = new TensorProto { Name = "t", DataType = (int)TensorProto.Types.DataType.Float16 };
        t.Dims.Add(2);
        t.Int32Data.Add(BitConverter.HalfToUInt16Bits((Half)1.5f));
        t.Int32Data.Add(BitConverter.HalfToUInt16Bits((Half)(-3f)));
        var d = new TensorProto { Name = "d", DataType = (int)TensorProto.Types.DataType.Double };
        d.Dims.Add(2);
        d.DoubleData.Add([0.5, 7]);

        Assert.Equal([1.5f, -3f], TensorCodec.ReadFloats(t));
        Assert.Equal([0.5f, 7f], TensorCodec.ReadFloats(d));
    }

    [Fact]
    public void Integer_tensors_are_reported_not_factorizable_and_never_converted()
    {
        var t = new TensorProto { Name = "q", DataType = (int)TensorProto.Types.DataType.Int8, RawData = ByteString.CopyFrom(1, 2) };
        t.Dims.Add(2);

        var e = Assert.Throws<OnnxFactorizeException>(() => TensorCodec.ReadFloats(t));
        Assert.Contains("INT8", e.Message);
        Assert.Contains("'q'", e.Message);
    }
}
