using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Calibration;

/// <summary>Activation statistics on disk, one calib-{key}.bin per request, keyed by the SHA-256 of (model bytes hash,
/// request, inputs hash): a rerun on the same model and calibration data collects nothing again. Unreadable or foreign
/// files are misses, never errors; writes are atomic (temporary file, then rename).</summary>
internal sealed class CalibrationCache(string directory)
{
    private const int FormatVersion = 1;

    public static string Key(string modelHash, ActivationRequest request, string inputsHash) => Key(modelHash, request.ToString(), inputsHash);

    /// <summary>SHA-256 of (format, model hash(es), request text, inputs hash).</summary>
    public static string Key(string modelHash, string request, string inputsHash)
    {
        var text = $"v{FormatVersion}\n{modelHash}\n{request}\n{inputsHash}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>Paired statistics of sequential reconstruction stored under <paramref name="key"/>, or null (a miss).</summary>
    public PairedStatistics? TryLoadPaired(string key, PairedRequest request) => TryRead(key, request.ToString(), reader =>
    {
        var compressed = ReadAccumulator(reader);
        var original = ReadAccumulator(reader);
        var cross = ReadDoubles(reader, (long)compressed.Dimension * original.Dimension);
        return new PairedStatistics(request, compressed, original, cross);
    });

    /// <summary>Stores paired statistics under <paramref name="key"/> (atomically).</summary>
    public void StorePaired(string key, PairedStatistics statistics)
    {
        Write(key, writer =>
        {
            writer.Write(statistics.Request.ToString());
            WriteAccumulator(writer, statistics.Compressed);
            WriteAccumulator(writer, statistics.Original);
            writer.Write(MemoryMarshal.AsBytes(statistics.Cross.AsSpan()));
        });
    }

    private void Write(string key, Action<BinaryWriter> body)
    {
        Directory.CreateDirectory(directory);
        var path = PathOf(key);
        var temp = path + $".{Environment.ProcessId}.tmp";
        using (var writer = new BinaryWriter(File.Create(temp)))
        {
            writer.Write(FormatVersion);
            body(writer);
        }

        File.Move(temp, path, overwrite: true);
    }

    public ActivationStatistics? TryLoad(string key, ActivationRequest request) => TryRead(key, request.ToString(), reader =>
    {
        var inputs = ReadAccumulator(reader);
        var channels = reader.ReadBoolean() ? ReadAccumulator(reader) : null;
        return new ActivationStatistics(request, inputs, channels);
    });

    public void Store(string key, ActivationStatistics statistics)
    {
        Write(key, writer =>
        {
            writer.Write(statistics.Request.ToString());
            WriteAccumulator(writer, statistics.Inputs);
            writer.Write(statistics.Channels is not null);
            if (statistics.Channels is not null)
            {
                WriteAccumulator(writer, statistics.Channels);
            }
        });
    }

    // The body of the file under key when its format and request match, else null; unreadable files are misses too.
    private T? TryRead<T>(string key, string request, Func<BinaryReader, T> body)
        where T : class
    {
        var path = PathOf(key);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            return reader.ReadInt32() != FormatVersion || reader.ReadString() != request ? null : body(reader);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ArgumentException)
        {
            return null;
        }
    }

    private string PathOf(string key) => Path.Combine(directory, $"calib-{key}.bin");

    private static void WriteAccumulator(BinaryWriter writer, GramAccumulator a)
    {
        writer.Write(a.Dimension);
        writer.Write(a.Count);
        writer.Write(MemoryMarshal.AsBytes(a.Gram().AsSpan()));
        writer.Write(MemoryMarshal.AsBytes(a.Sum().AsSpan()));
    }

    private static GramAccumulator ReadAccumulator(BinaryReader reader)
    {
        var d = reader.ReadInt32();
        var count = reader.ReadInt64();
        if (d < 1 || count < 0)
        {
            throw new EndOfStreamException();
        }

        var gram = ReadDoubles(reader, (long)d * d);
        var sum = ReadDoubles(reader, d);
        return GramAccumulator.FromTotals(d, count, gram, sum);
    }

    private static double[] ReadDoubles(BinaryReader reader, long count)
    {
        var values = new double[count];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        if (reader.Read(bytes) != bytes.Length)
        {
            throw new EndOfStreamException();
        }

        return values;
    }
}
