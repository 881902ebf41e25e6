using System.Security.Cryptography;
using System.Text.Json;

namespace OnnxFactorize.Tests.Support;

/// <summary>One third-party model pinned in testmodels/real-models.json.</summary>
internal sealed record RealModel(string Id, string NpmPackage, string Version, string PathInPackage, string Sha256, string Exercises)
{
    public override string ToString() => Id;
}

/// <summary>The third-party models fetched by tools/fetch-models.sh into .cache/models/. A missing or altered file
/// throws: a test that needs a real model never passes without it.</summary>
internal static class RealModels
{
    private static readonly Lazy<IReadOnlyList<RealModel>> LazyAll = new(Load);

    public static string ManifestPath => System.IO.Path.Combine(RepoPaths.TestModels, "real-models.json");

    public static string CacheDir => System.IO.Path.Combine(RepoPaths.Root, ".cache", "models");

    /// <summary>Every model in the manifest, in manifest order.</summary>
    public static IReadOnlyList<RealModel> All => LazyAll.Value;

    /// <summary>Manifest ids, for [MemberData].</summary>
    public static TheoryData<string> Ids
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var model in All)
            {
                data.Add(model.Id);
            }

            return data;
        }
    }

    /// <summary>Cached path of the model, checked against its pinned sha256.</summary>
    public static string Path(string id)
    {
        var model = All.FirstOrDefault(m => m.Id == id)
            ?? throw new ArgumentException($"'{id}' is not in {ManifestPath}", nameof(id));
        // Same layout as tools/fetch-models.sh: "@scope/name" -> "scope-name", then "-<version>".
        var folder = $"{model.NpmPackage.TrimStart('@').Replace('/', '-')}-{model.Version}";
        var path = System.IO.Path.Combine(CacheDir, folder, model.PathInPackage);
        if (!File.Exists(path))
        {
            var why = Environment.GetEnvironmentVariable("CI") == "true" ? "CI must fetch it first" : "fetch it first";
            throw new FileNotFoundException($"Real model '{id}' is missing at {path} ({why}): run tools/fetch-models.sh", path);
        }

        var actual = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        if (actual != model.Sha256)
        {
            throw new InvalidDataException($"Real model '{id}' at {path} has sha256 {actual}, expected {model.Sha256}: delete it and run tools/fetch-models.sh");
        }

        return path;
    }

    private static List<RealModel> Load()
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(ManifestPath));
        var models = new List<RealModel>();
        foreach (var entry in document.RootElement.GetProperty("models").EnumerateArray())
        {
            string Get(string name) => entry.GetProperty(name).GetString()
                ?? throw new InvalidDataException($"{ManifestPath}: '{name}' is null");
            models.Add(new RealModel(Get("id"), Get("npmPackage"), Get("version"), Get("path"), Get("sha256"), Get("exercises")));
        }

        return models;
    }
}
