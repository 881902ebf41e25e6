namespace OnnxFactorize.Tests.Support;

public sealed class RealModelsTests
{
    [Fact]
    public void The_manifest_lists_pinned_models_with_unique_ids()
    {
        Assert.NotEmpty(RealModels.All);
        Assert.Equal(RealModels.All.Count, RealModels.All.Select(m => m.Id).Distinct().Count());
        Assert.All(RealModels.All, m => Assert.Matches("^[0-9a-f]{64}$", m.Sha256));
        Assert.All(RealModels.All, m => Assert.Matches(@"^\d+\.\d+\.\d+$", m.Version));
    }

    [Fact]
    public void An_unknown_id_is_rejected_with_the_manifest_named()
    {
        var e = Assert.Throws<ArgumentException>(() => RealModels.Path("no-such-model"));
        Assert.Contains("real-models.json", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(RealModels.Ids), MemberType = typeof(RealModels))]
    public void Each_real_model_is_fetched_verified_and_runs_in_onnx_runtime(string id)
    {
        var outputs = OrtRunner.RunOnRandomInputs(RealModels.Path(id), seed: 2);

        Assert.All(outputs, o => Assert.All(o.Value, v => Assert.True(float.IsFinite(v), $"{id}: {o.Key} has {v}")));
    }
}

public sealed class OnnxTestDataTests
{
    [Fact]
    public void The_debian_testdata_models_are_enumerated()
    {
        var models = OnnxTestData.Models();

        Assert.True(models.Count > 100, $"only {models.Count} models under {OnnxTestData.Root}");
        Assert.Contains(models, m => OnnxTestData.CaseName(m) == "node/test_gemm_default_no_bias");
    }
}
