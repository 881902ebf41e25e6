using OnnxFactorize.ModelGen;
using OnnxFactorize.Tests.Support;

namespace OnnxFactorize.Tests.ModelGen;

public sealed class TestModelsTests
{
    public static TheoryData<string> ModelFiles
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var (fileName, _) in TestModels.All().Where(f => f.FileName.EndsWith(".onnx", StringComparison.Ordinal)))
            {
                data.Add(fileName);
            }

            return data;
        }
    }

    [Fact]
    public void Regenerating_into_a_temp_folder_gives_the_committed_bytes()
    {
        var temp = Directory.CreateTempSubdirectory("modelgen-");
        try
        {
            var generated = TestModels.All();
            foreach (var (fileName, bytes) in generated)
            {
                File.WriteAllBytes(Path.Combine(temp.FullName, fileName), bytes);
            }

            var stale = new List<string>();
            foreach (var (fileName, _) in generated)
            {
                var committed = Path.Combine(RepoPaths.TestModels, fileName);
                if (!File.Exists(committed) || !File.ReadAllBytes(committed).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(temp.FullName, fileName))))
                {
                    stale.Add(fileName);
                }
            }

            Assert.True(stale.Count == 0,
                $"testmodels/ is out of date for {string.Join(", ", stale)}: run `dotnet run --project tools/OnnxFactorize.ModelGen -- testmodels` and commit");
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    [Fact]
    public void Generating_twice_gives_identical_bytes()
    {
        var first = TestModels.All();
        var second = TestModels.All();
        Assert.Equal(first.Select(f => f.FileName), second.Select(f => f.FileName));
        for (var k = 0; k < first.Count; k++)
        {
            Assert.True(first[k].Bytes.AsSpan().SequenceEqual(second[k].Bytes), first[k].FileName);
        }
    }

    [Fact]
    public void Every_committed_model_file_is_one_the_generator_writes()
    {
        var generated = TestModels.All().Select(f => f.FileName).ToHashSet();
        var committed = Directory.EnumerateFiles(RepoPaths.TestModels)
            .Select(Path.GetFileName)
            .Where(name => name!.EndsWith(".onnx", StringComparison.Ordinal) || name.EndsWith(".data", StringComparison.Ordinal));
        Assert.All(committed, name => Assert.Contains(name!, generated));
    }

    [Fact]
    public void The_generated_models_together_stay_under_5_MiB()
    {
        Assert.InRange(TestModels.All().Sum(f => (long)f.Bytes.Length), 1, 5L * 1024 * 1024);
    }

    [Theory]
    [MemberData(nameof(ModelFiles))]
    public void Each_committed_model_runs_in_onnx_runtime_with_finite_outputs(string fileName)
    {
        var outputs = OrtRunner.RunOnRandomInputs(Path.Combine(RepoPaths.TestModels, fileName), seed: 1);

        Assert.NotEmpty(outputs);
        Assert.All(outputs, o => Assert.All(o.Value, v => Assert.True(float.IsFinite(v), $"{o.Key} has {v}")));
        Assert.All(outputs, o => Assert.Contains(o.Value, v => v != 0));
    }

    [Fact]
    public void Both_branches_of_the_if_model_run_and_differ()
    {
        var path = Path.Combine(RepoPaths.TestModels, "if_subgraph.onnx");

        var thenY = OrtRunner.RunOnRandomInputs(path, seed: 3, boolValue: true)["Y"];
        var elseY = OrtRunner.RunOnRandomInputs(path, seed: 3, boolValue: false)["Y"];

        Assert.Equal(16, thenY.Length);
        Assert.Equal(16, elseY.Length);
        Assert.NotEqual(thenY, elseY);
    }

    [Fact]
    public void The_external_data_model_keeps_its_weights_at_4096_aligned_offsets()
    {
        var (model, data) = TestModels.ExternalData();
        var external = model.Graph.Initializer.Where(t => t.DataLocation == OnnxFactorize.Onnx.Proto.TensorProto.Types.DataLocation.External).ToList();

        Assert.Equal(["W1", "W2"], external.Select(t => t.Name));
        foreach (var tensor in external)
        {
            var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.Equal(TestModels.ExternalDataFileName, entries["location"]);
            var offset = long.Parse(entries["offset"], System.Globalization.CultureInfo.InvariantCulture);
            var length = long.Parse(entries["length"], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(0, offset % 4096);
            Assert.Equal(tensor.Dims.Aggregate(4L, (a, b) => a * b), length);
            Assert.InRange(offset + length, 1, data.Length);
            Assert.True(tensor.RawData.IsEmpty);
        }
    }
}
