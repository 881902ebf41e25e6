using OnnxFactorize.Onnx;

namespace OnnxFactorize.Tests.Onnx;

public class RoundTripTests
{
    [Fact]
    public void Every_backend_test_model_saves_byte_identical_to_its_input()
    {
        var models = OnnxTestDataFolder.AllModels();
        Assert.True(models.Count > 1000, $"expected the ONNX backend test models, found {models.Count}");
        var failures = new List<string>();
        foreach (var path in models)
        {
            var original = File.ReadAllBytes(path);
            var model = OnnxModel.Load(path);
            if (!model.ToBytes().AsSpan().SequenceEqual(original))
            {
                failures.Add(path);
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} models changed on round trip, e.g. {string.Join(", ", failures.Take(5))}");
    }
}
