using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Tests.Support;

namespace OnnxFactorize.Tests.Onnx;

public sealed class RoundTripTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ofz-roundtrip-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    public static TheoryData<string> TestModels()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.EnumerateFiles(RepoPaths.TestModels, "*.onnx").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(path));
        }

        return data;
    }

    [Fact]
    public void Every_backend_test_model_saves_byte_identical_to_its_input()
    {
        var models = OnnxTestData.Models();
        Assert.True(models.Count > 1000, $"expected the ONNX backend test models, found {models.Count}");
        var failures = new List<string>();
        foreach (var path in models)
        {
            var original = File.ReadAllBytes(path);
            if (!OnnxModel.Load(path).ToBytes().AsSpan().SequenceEqual(original))
            {
                failures.Add(path);
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} models changed on round trip, e.g. {string.Join(", ", failures.Take(5))}");
    }

    [Theory]
    [MemberData(nameof(TestModels))]
    public void Every_test_model_saved_through_the_graph_to_a_file_is_byte_identical(string name) =>
        AssertFileRoundTrip(Path.Combine(RepoPaths.TestModels, name));

    [Theory]
    [MemberData(nameof(RealModels.Ids), MemberType = typeof(RealModels))]
    public void Every_real_model_saved_through_the_graph_to_a_file_is_byte_identical(string id) =>
        AssertFileRoundTrip(RealModels.Path(id));

    private void AssertFileRoundTrip(string path)
    {
        var output = Path.Combine(_folder, Path.GetFileName(path));
        ModelGraph.Import(OnnxModel.Load(path)).Export().Save(output);

        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(output));
        if (File.Exists(path + ".data"))
        {
            Assert.Equal(File.ReadAllBytes(path + ".data"), File.ReadAllBytes(output + ".data"));
        }
    }
}
