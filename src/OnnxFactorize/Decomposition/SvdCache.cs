using System.Security.Cryptography;

namespace OnnxFactorize.Decomposition;

/// <summary>Truncated SVDs shared across runs, keyed by the SHA-256 of the matrix bytes, its shape and the
/// <see cref="SvdOptions"/> that change the result; kept in memory and, when a folder is given, on disk, so a rerun or an
/// incremental build decomposes nothing it already decomposed. A cached result computed to rank R serves every request
/// up to R (the truncated SVD is nested: its leading k triplets are a rank-k truncation). Thread-safe.</summary>
public sealed class SvdCache
{
    private const int FormatVersion = 1;
    private readonly Dictionary<string, SvdResult> _memory = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _computed;
    private int _hits;

    /// <summary>Creates a cache; <paramref name="directory"/> persists results (created on first write), null keeps them in memory only.</summary>
    public SvdCache(string? directory = null) => Directory = directory;

    /// <summary>Folder holding svd-*.bin files, or null.</summary>
    public string? Directory { get; }

    /// <summary>Decompositions actually computed (cache misses) since creation.</summary>
    public int Computed => _computed;

    /// <summary>Requests served from memory or disk.</summary>
    public int Hits => _hits;

    /// <summary>The top-<paramref name="rank"/> SVD of the row-major rows×cols matrix, from the cache when an entry of at least
    /// that rank (or a full one) exists, else computed with <see cref="TruncatedSvd.Compute"/> and stored.</summary>
    public SvdResult GetOrCompute(float[] matrix, int rows, int cols, int rank, SvdOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentNullException.ThrowIfNull(options);
        var key = Key(matrix, rows, cols, options);
        var full = Math.Min(rows, cols);
        lock (_lock)
        {
            if ((_memory.TryGetValue(key, out var cached) || (cached = ReadFile(key, rows, cols)) is not null) && (cached.Rank >= rank || cached.Rank == full))
            {
                _memory[key] = cached;
                _hits++;
                return cached;
            }
        }

        var result = TruncatedSvd.Compute(matrix, rows, cols, rank, options, cancellationToken);
        lock (_lock)
        {
            _computed++;
            _memory[key] = result;
            WriteFile(key, result);
        }

        return result;
    }

    /// <summary>Hex SHA-256 of the matrix bytes, its shape and the result-changing SVD settings.</summary>
    public static string Key(ReadOnlySpan<float> matrix, int rows, int cols, SvdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> header = stackalloc byte[24];
        BitConverter.TryWriteBytes(header, FormatVersion);
        BitConverter.TryWriteBytes(header[4..], rows);
        BitConverter.TryWriteBytes(header[8..], cols);
        BitConverter.TryWriteBytes(header[12..], options.Seed);
        BitConverter.TryWriteBytes(header[16..], options.Oversamples);
        BitConverter.TryWriteBytes(header[20..], options.PowerIterations);
        hash.AppendData(header);
        hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(matrix));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private string? PathOf(string key) => Directory is null ? null : System.IO.Path.Combine(Directory, $"svd-{key}.bin");

    private SvdResult? ReadFile(string key, int rows, int cols)
    {
        var path = PathOf(key);
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        try
        {
            using var reader = new BinaryReader(File.OpenRead(path));
            if (reader.ReadInt32() != FormatVersion || reader.ReadInt32() != rows || reader.ReadInt32() != cols)
            {
                return null;
            }

            var rank = reader.ReadInt32();
            var frob = reader.ReadDouble();
            var s = new double[rank];
            for (var i = 0; i < rank; i++)
            {
                s[i] = reader.ReadDouble();
            }

            var u = ReadFloats(reader, rows * rank);
            var vt = ReadFloats(reader, rank * cols);
            return new SvdResult(rows, cols, u, s, vt, frob);
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ArgumentException)
        {
            // A truncated or foreign file is a miss, never an error: it is recomputed and overwritten.
            return null;
        }
    }

    private void WriteFile(string key, SvdResult result)
    {
        var path = PathOf(key);
        if (path is null)
        {
            return;
        }

        // Atomic, with a temp name a later run sweeps if this process is killed mid-write.
        TempFiles.WriteAtomic(path, stream =>
        {
            using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(FormatVersion);
            writer.Write(result.Rows);
            writer.Write(result.Cols);
            writer.Write(result.Rank);
            writer.Write(result.FrobeniusNormSquared);
            foreach (var s in result.S)
            {
                writer.Write(s);
            }

            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.U.AsSpan()));
            writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.Vt.AsSpan()));
        });
    }

    private static float[] ReadFloats(BinaryReader reader, int count)
    {
        var values = new float[count];
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());
        if (reader.Read(bytes) != bytes.Length)
        {
            throw new EndOfStreamException();
        }

        return values;
    }
}
