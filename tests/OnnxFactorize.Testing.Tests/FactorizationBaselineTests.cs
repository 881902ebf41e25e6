using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Testing.Tests;

/// <summary>Pins, per model in testmodels/, the output error and compression of the default factorization against
/// Baselines/factorization.json. A change that makes either worse fails; a change that improves them is recorded on
/// purpose by running the tests with OFZ_UPDATE_BASELINE=1 and committing the rewritten file.</summary>
public sealed class FactorizationBaselineTests : IDisposable
{
    private static readonly string BaselinePath = Path.Combine(RepoRoot(), "tests", "OnnxFactorize.Testing.Tests", "Baselines", "factorization.json");
    private static readonly Lock BaselineLock = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("ofz-baseline-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    public static TheoryData<string> Models() =>
    [
        "mlp_gemm.onnx", "matmul_2d.onnx", "matmul_3d.onnx", "cnn.onnx", "conv1d.onnx", "if_subgraph.onnx",
        "shared_weight.onnx", "fp16.onnx", "external_data.onnx", "metadata_rich.onnx",
    ];

    [Theory]
    [MemberData(nameof(Models))]
    public void Default_factorization_is_no_worse_than_its_recorded_baseline(string name)
    {
        var source = Path.Combine(RepoRoot(), "testmodels", name);
        var output = Path.Combine(_folder, name);
        var factorized = Factorizer.Run(OnnxModel.Load(source), new FactorizeOptions());
        factorized.Model.Save(output);
        var inputs = new InputOptions { Dims = InputOptions.ParseDims(["batch=2", "seq=8"]), Seed = 7, RandomSamples = 2 };

        var update = Environment.GetEnvironmentVariable("OFZ_UPDATE_BASELINE") == "1";
        var baseline = update ? null : Load()[name];
        var thresholds = baseline is null
            ? new ValidationThresholds()
            : new ValidationThresholds { MaxRelL2Error = (baseline["relL2Error"]!.GetValue<double>() * 1.05) + 1e-6 };
        var result = ModelAssert.Equivalent(source, output, thresholds, inputs);

        var error = result.Outputs.Max(o => o.RelL2Error);
        var paramsRatio = (double)result.Optimized.Parameters / result.Original.Parameters;
        var factorizedNodes = factorized.Decisions.Count(d => d.Status == DecisionStatus.Factorized);
        if (update)
        {
            Record(name, error, paramsRatio, factorizedNodes);
            return;
        }

        Assert.True(baseline is not null, $"{name} has no baseline in {BaselinePath}; run the tests with OFZ_UPDATE_BASELINE=1 and commit it");
        var pinnedRatio = baseline!["paramsRatio"]!.GetValue<double>();
        Assert.True(paramsRatio <= pinnedRatio + 1e-6, // the file keeps six decimals
            $"{name}: parameters ratio {paramsRatio:F4} is worse than the baseline {pinnedRatio:F4}");
        Assert.True(factorizedNodes >= baseline["factorizedNodes"]!.GetValue<int>(),
            $"{name}: {factorizedNodes} nodes factorized, the baseline has {baseline["factorizedNodes"]}");
    }

    private static JsonObject Load()
    {
        lock (BaselineLock)
        {
            return JsonNode.Parse(File.ReadAllText(BaselinePath))!["models"]!.AsObject();
        }
    }

    private static void Record(string name, double error, double paramsRatio, int factorizedNodes)
    {
        lock (BaselineLock)
        {
            var root = File.Exists(BaselinePath) ? JsonNode.Parse(File.ReadAllText(BaselinePath))!.AsObject() : new JsonObject();
            root["comment"] = "Default factorization (energy 0.99, method auto) of each test model: worst relative L2 output error on seeded inputs, parameters after/before, nodes factorized. Regenerate deliberately with OFZ_UPDATE_BASELINE=1.";
            var models = root["models"]?.AsObject() ?? [];
            models[name] = new JsonObject
            {
                ["relL2Error"] = Math.Round(error, 6, MidpointRounding.AwayFromZero),
                ["paramsRatio"] = Math.Round(paramsRatio, 6, MidpointRounding.AwayFromZero),
                ["factorizedNodes"] = factorizedNodes,
            };
            root["models"] = new JsonObject(models.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
            File.WriteAllText(BaselinePath, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OnnxFactorize.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"no OnnxFactorize.sln above {AppContext.BaseDirectory}"));
    }
}
