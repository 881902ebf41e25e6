using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OnnxFactorize.Planning;

/// <summary>Measured node ladders on disk, one JSON file per content key (SHA-256 of everything the measurement depends
/// on), so a rerun or an incremental build measures nothing it already measured. A missing, stale or unreadable file is
/// a miss, never an error.</summary>
internal sealed class PlanCache
{
    private static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly string? _directory;

    public PlanCache(string? directory) => _directory = directory;

    /// <summary>Hex SHA-256 over the parts, each length-prefixed so no two part lists collide.</summary>
    public static string Key(params object[] parts)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in parts)
        {
            var bytes = part as byte[] ?? Encoding.UTF8.GetBytes(Convert.ToString(part, System.Globalization.CultureInfo.InvariantCulture) ?? "");
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public NodePlan? TryRead(string key)
    {
        var path = PathOf(key);
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<NodePlan>(File.ReadAllBytes(path), Json);
        }
        catch (Exception e) when (e is IOException or JsonException or NotSupportedException)
        {
            return null;
        }
    }

    public void Write(string key, NodePlan plan)
    {
        var path = PathOf(key);
        if (path is null)
        {
            return;
        }

        var bytes = JsonSerializer.SerializeToUtf8Bytes(plan, Json);
        TempFiles.WriteAtomic(path, stream => stream.Write(bytes));
    }

    private string? PathOf(string key) => _directory is null ? null : Path.Combine(_directory, $"node-{key}.json");
}
