using System.Security.Cryptography;
using System.Text.Json;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Support;

namespace OnnxFactorize.Tests.Passes;

/// <summary>Pins the sha256 of the factorized bytes of every test model and real model under a set of option sets, so a
/// refactor of the pass protocol cannot change what is written. <c>OFZ_UPDATE_PINS=1</c> rewrites the pins (only when a
/// change of the numbers is intended, and said in the commit).</summary>
public class FactorizedBytesPinTests
{
    private static readonly string PinFile = Path.Combine(RepoPaths.Root, "tests", "OnnxFactorize.Tests", "Pins", "factorized-bytes.json");

    private static readonly (string Name, FactorizeOptions Options)[] OptionSets =
    [
        ("default", new FactorizeOptions()),
        ("energy-0.9", new FactorizeOptions { RankPolicy = RankPolicy.Energy(0.9) }),
        ("ratio-0.5", new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.5) }),
        ("svd-ratio-0.25", new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.25), Methods = ["svd"] }),
        ("tucker2-ratio-0.5", new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.5), Methods = ["tucker2"] }),
        ("spatial-ratio-0.5", new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.5), Methods = ["spatial-svd"] }),
        ("depthwise-ratio-0.5", new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.5), Methods = ["depthwise"] }),
        ("vbmf", new FactorizeOptions { Methods = ["tucker2"], TuckerRanks = TuckerRankEstimate.Vbmf }),
    ];

    private static IEnumerable<(string Id, string Path)> Models() =>
        Directory.GetFiles(RepoPaths.TestModels, "*.onnx").Order(StringComparer.Ordinal).Select(p => (Path.GetFileName(p), p))
            .Concat(RealModels.All.Select(m => (m.Id, RealModels.Path(m.Id))));

    private static SortedDictionary<string, string> Compute()
    {
        var hashes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, path) in Models())
        {
            var model = OnnxModel.Load(path);
            foreach (var (name, options) in OptionSets)
            {
                var result = Factorizer.Run(model, options);
                hashes[$"{id}|{name}"] = Convert.ToHexStringLower(SHA256.HashData(result.Model.ToBytes()));
            }
        }

        return hashes;
    }

    [Fact]
    public void Factorized_bytes_of_every_test_and_real_model_match_their_pins()
    {
        var actual = Compute();
        if (Environment.GetEnvironmentVariable("OFZ_UPDATE_PINS") == "1")
        {
            File.WriteAllText(PinFile, JsonSerializer.Serialize(actual, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }

        var pinned = JsonSerializer.Deserialize<SortedDictionary<string, string>>(File.ReadAllText(PinFile))!;
        Assert.Equal(pinned.Keys, actual.Keys);
        var changed = pinned.Where(p => actual[p.Key] != p.Value).Select(p => p.Key).ToList();
        Assert.True(changed.Count == 0, $"factorized bytes changed for: {string.Join(", ", changed)}");
    }
}
