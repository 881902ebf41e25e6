using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxFactorize.Validation;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Calibration;

/// <summary>An append-only list of per-sample tensor lists (calibration inputs, reference outputs) whose memory does not grow
/// with the number of samples: entries stay in memory until their total size passes <see cref="MemoryLimitBytes"/>, then
/// every entry goes to a temporary file (deleted on dispose) and is read back one at a time when enumerated. The planner
/// keeps its calibration samples and the original model's outputs here, so 256 samples cost the same memory as 16.</summary>
internal sealed class CalibrationStore : IDisposable
{
    private readonly List<IReadOnlyList<TensorData>> _resident = [];
    private readonly List<long> _offsets = [];
    private FileStream? _file;
    private long _residentBytes;

    /// <summary>A store keeping at most <paramref name="memoryLimitBytes"/> of tensor data in memory.</summary>
    public CalibrationStore(long memoryLimitBytes) => MemoryLimitBytes = memoryLimitBytes;

    /// <summary>Largest total tensor size held in memory before the store moves to disk.</summary>
    public long MemoryLimitBytes { get; }

    /// <summary>Number of entries.</summary>
    public int Count => _file is null ? _resident.Count : _offsets.Count;

    /// <summary>Bytes of tensor data held in memory now (0 once the store is on disk).</summary>
    public long ResidentBytes => _residentBytes;

    /// <summary>True once the entries live in the temporary file.</summary>
    public bool OnDisk => _file is not null;

    /// <summary>Appends one entry.</summary>
    public void Add(IReadOnlyList<TensorData> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (_file is not null)
        {
            Write(tensors);
            return;
        }

        _resident.Add(tensors);
        _residentBytes += tensors.Sum(Bytes);
        if (_residentBytes > MemoryLimitBytes && tensors.All(t => TensorData.IsSupported(t.ElementType)))
        {
            Spill();
        }
    }

    /// <summary>The entries in order; from disk, each is read when reached and nothing is kept after it.</summary>
    public IEnumerable<IReadOnlyList<TensorData>> Read()
    {
        if (_file is null)
        {
            foreach (var entry in _resident.ToList())
            {
                yield return entry;
            }

            yield break;
        }

        for (var i = 0; i < _offsets.Count; i++)
        {
            yield return ReadAt(i);
        }
    }

    /// <summary>Entry <paramref name="index"/>.</summary>
    public IReadOnlyList<TensorData> this[int index] => _file is null ? _resident[index] : ReadAt(index);

    /// <summary>Deletes the temporary file.</summary>
    public void Dispose() => _file?.Dispose();

    private static long Bytes(TensorData t) => t.ElementCount * ElementSize(t.ElementType);

    private static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Float16 or TensorElementType.Int16 or TensorElementType.UInt16 => 2,
        _ => 1,
    };

    private void Spill()
    {
        var path = Path.Combine(Path.GetTempPath(), $"onnx-factorize-calibration-{Guid.NewGuid():N}.bin");
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        foreach (var entry in _resident)
        {
            Write(entry);
        }

        _resident.Clear();
        _resident.TrimExcess();
        _residentBytes = 0;
    }

    private void Write(IReadOnlyList<TensorData> tensors)
    {
        var file = _file!;
        file.Seek(0, SeekOrigin.End);
        _offsets.Add(file.Position);
        using var writer = new BinaryWriter(file, System.Text.Encoding.UTF8, leaveOpen: true);
        writer.Write(tensors.Count);
        foreach (var t in tensors)
        {
            writer.Write(t.Name);
            writer.Write((int)t.ElementType);
            writer.Write(t.Shape.Count);
            foreach (var d in t.Shape)
            {
                writer.Write(d);
            }

            writer.Write(AsBytes(t.Data));
        }
    }

    private TensorData[] ReadAt(int index)
    {
        var file = _file!;
        file.Seek(_offsets[index], SeekOrigin.Begin);
        using var reader = new BinaryReader(file, System.Text.Encoding.UTF8, leaveOpen: true);
        var tensors = new TensorData[reader.ReadInt32()];
        for (var i = 0; i < tensors.Length; i++)
        {
            var name = reader.ReadString();
            var type = (TensorElementType)reader.ReadInt32();
            var shape = new long[reader.ReadInt32()];
            for (var d = 0; d < shape.Length; d++)
            {
                shape[d] = reader.ReadInt64();
            }

            var data = Array.CreateInstance(TensorData.ClrType(type), checked((int)TensorData.ElementCountOf(shape)));
            reader.BaseStream.ReadExactly(AsBytes(data));
            tensors[i] = new TensorData(name, type, shape, data);
        }

        return tensors;
    }

    // The raw bytes of a primitive (or Float16) array, viewed in place.
    internal static Span<byte> AsBytes(Array data) => TensorFiles.AsBytes(data);
}
