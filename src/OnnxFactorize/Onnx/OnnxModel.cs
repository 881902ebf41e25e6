using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Onnx;

/// <summary>How <see cref="OnnxModel.Save(string, SaveOptions?)"/> stores tensor data.</summary>
public enum ExternalDataMode
{
    /// <summary>Tensors that were external stay external (in one data file next to the output); everything moves out
    /// when the model would exceed protobuf's 2 GiB limit.</summary>
    Auto,

    /// <summary>Every tensor of at least <see cref="ExternalData.SizeThreshold"/> bytes goes to the data file.</summary>
    Always,

    /// <summary>All data inline in the model file (fails beyond 2 GiB).</summary>
    Never,
}

/// <summary>Options for saving a model.</summary>
public sealed record SaveOptions
{
    /// <summary>Where tensor data goes.</summary>
    public ExternalDataMode ExternalData { get; init; } = ExternalDataMode.Auto;
}

/// <summary>An ONNX model as loaded from a file or stream: the protobuf, the folder its external data is relative to,
/// and lossless load and atomic save.</summary>
public sealed class OnnxModel
{
    /// <summary>Protobuf's hard limit on one message; a larger model must keep its weights in external data.</summary>
    public const long ProtobufLimit = int.MaxValue;

    private OnnxModel(ModelProto proto, string? baseDirectory, string name, string? sourcePath)
    {
        Proto = proto;
        BaseDirectory = baseDirectory;
        Name = name;
        SourcePath = sourcePath;
    }

    /// <summary>The model's protobuf. Passes work on the editable graph, not on this.</summary>
    public ModelProto Proto { get; }

    /// <summary>Folder that external-data locations are relative to; null for a stream with no folder.</summary>
    public string? BaseDirectory { get; }

    /// <summary>The name used in messages (the file path, or the caller's name for a stream).</summary>
    public string Name { get; }

    /// <summary>Full path of the file the model came from, or null.</summary>
    public string? SourcePath { get; }

    /// <summary>Wraps a model built in memory; <paramref name="sourcePath"/> is the file it was derived from, which
    /// <see cref="Save(string, SaveOptions?)"/> then refuses to overwrite.</summary>
    public static OnnxModel FromProto(ModelProto proto, string name = "<memory>", string? baseDirectory = null, string? sourcePath = null) =>
        new(proto ?? throw new ArgumentNullException(nameof(proto)), baseDirectory, name, sourcePath);

    /// <summary>A one-node model built from <paramref name="node"/> of <paramref name="source"/> (same IR version and opset
    /// imports), renamed <paramref name="name"/>: <paramref name="constants"/> become initializers, <paramref name="inputs"/>
    /// graph inputs of static shape, and the node's outputs graph outputs.</summary>
    internal static OnnxModel SingleNode(OnnxModel source, NodeProto node, string name, IEnumerable<TensorProto> constants,
        IEnumerable<(string Name, int ElementType, IReadOnlyList<long> Dims)> inputs)
    {
        var model = new ModelProto { IrVersion = source.Proto.IrVersion, ProducerName = "onnx-factorize-planner" };
        model.OpsetImport.AddRange(source.Proto.OpsetImport.Select(o => o.Clone()));
        var graph = new GraphProto { Name = "isolated" };
        var copy = node.Clone();
        copy.Name = name;
        graph.Node.Add(copy);
        graph.Initializer.AddRange(constants);
        foreach (var (inputName, elementType, dims) in inputs)
        {
            var shape = new TensorShapeProto();
            shape.Dim.AddRange(dims.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
            graph.Input.Add(new ValueInfoProto { Name = inputName, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } } });
        }

        graph.Output.AddRange(copy.Output.Where(o => o.Length > 0).Select(o => new ValueInfoProto { Name = o }));
        model.Graph = graph;
        return FromProto(model, $"{source.Name}:{name}", source.BaseDirectory);
    }

    /// <summary>Loads a model file. Errors are <see cref="OnnxFactorizeException"/> with a one-line message naming the file.</summary>
    public static OnnxModel Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            throw new OnnxFactorizeException($"{path}: is a folder; give the path of an .onnx file.");
        }

        if (!File.Exists(path))
        {
            throw new OnnxFactorizeException($"{path}: file not found; check the model path.");
        }

        // Before opening: a FIFO blocks open() forever and a device (/dev/zero) never ends.
        OutputPaths.RequireRegularFile(path, "the model");
        ModelProto proto;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > ProtobufLimit)
            {
                throw new OnnxFactorizeException($"{path}: {length} bytes is over protobuf's 2 GiB limit; store the weights as ONNX external data.");
            }

            // Large initializers stay in the file until read (ModelFile); anything else is parsed from the file as it is,
            // never from a copy of it in memory.
            proto = (length > 0 ? ModelFile.ParseLazy(path, length) : null) ?? ParseFile(path, length);
        }
        catch (IOException e)
        {
            throw new OnnxFactorizeException($"{path}: cannot read the file: {e.Message}", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new OnnxFactorizeException($"{path}: no permission to read the file.", e);
        }

        var full = Path.GetFullPath(path);
        if (!proto.HasIrVersion || proto.Graph is null)
        {
            // The same one-line message a whole parse gives.
            proto = ParseFile(path, new FileInfo(path).Length);
        }

        ModelCheck.Validate(proto, path);
        var model = new OnnxModel(proto, Path.GetDirectoryName(full), path, full);
        foreach (var tensor in proto.Graph.Initializer.Where(model.IsOwnData))
        {
            ModelCheck.CheckRawLength(tensor, long.Parse(ExternalData.Entry(tensor, "length")!, System.Globalization.CultureInfo.InvariantCulture), path);
        }

        return model;
    }

    /// <summary>Loads a model from a stream; <paramref name="baseDirectory"/> is where its external data lives, if any.</summary>
    public static OnnxModel Load(Stream stream, string? baseDirectory = null, string name = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var proto = Parse(buffer.ToArray(), name);
        ModelCheck.Validate(proto, name);
        return new OnnxModel(proto, baseDirectory is null ? null : Path.GetFullPath(baseDirectory), name, null);
    }

    /// <summary>Parses model bytes, turning every protobuf failure into a one-line message.</summary>
    public static ModelProto Parse(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0)
        {
            throw new OnnxFactorizeException($"{name}: the file is empty; expected an ONNX model.");
        }

        return Parse(() => ModelProto.Parser.ParseFrom(bytes), name);
    }

    /// <summary>Parses a model file straight from disk (no copy of the file in memory); <paramref name="length"/> is its size.</summary>
    internal static ModelProto ParseFile(string path, long length)
    {
        if (length == 0)
        {
            throw new OnnxFactorizeException($"{path}: the file is empty; expected an ONNX model.");
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Parse(() => ModelProto.Parser.ParseFrom(stream), path);
    }

    private static ModelProto Parse(Func<ModelProto> parse, string name)
    {
        ModelProto model;
        try
        {
            model = parse();
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFactorizeException($"{name}: not a valid ONNX model (protobuf: {FirstLine(e.Message)}); the file may be truncated or not an .onnx file.", e);
        }

        if (!model.HasIrVersion || model.Graph is null)
        {
            throw new OnnxFactorizeException($"{name}: not an ONNX model (no {(model.HasIrVersion ? "graph" : "ir_version")} field); check that this is an .onnx file.");
        }

        return model;
    }

    /// <summary>Serializes the model; tensors stored externally are read and inlined, since a stream has no folder to put a data file in.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var copy = Proto.Clone();
        foreach (var tensor in ModelTensors.All(copy))
        {
            if (ExternalData.IsExternal(tensor))
            {
                Inline(tensor, ExternalData.ReadBytes(tensor, BaseDirectory, Name));
            }
        }

        CheckSize(copy, Name);
        copy.WriteTo(stream);
    }

    /// <summary>The protobuf with every external tensor inlined — the model's own <see cref="Proto"/> when none is external —
    /// for ONNX Runtime sessions created from bytes, which cannot find data files.</summary>
    public ModelProto ProtoWithInlineData() =>
        ModelTensors.All(Proto).Any(ExternalData.IsExternal) ? Parse(ToBytes(), Name) : Proto;

    /// <summary>Returns the serialized model, external data inlined.</summary>
    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        Save(stream);
        return stream.ToArray();
    }

    /// <summary>Saves atomically, model and external data as one unit: the data file (always <c>&lt;output&gt;.data</c>, named
    /// after the output, never after the input's) and the model are written to temporary files in the target folder, then
    /// renamed data first; a failure or cancellation removes the temporary files and leaves the previous output in place.
    /// Refuses an output, or a data file, that is the model's own source or a file its external data lives in (see
    /// <see cref="OutputPaths"/>). Creates the folder.</summary>
    public void Save(string path, SaveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new SaveOptions();
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full) ?? ".";
        if (Directory.Exists(full))
        {
            throw new OnnxFactorizeException($"{path}: is a folder; give a file path for the output model.");
        }

        // Renaming over a device or FIFO would replace it (as root, /dev/null itself).
        if (OutputPaths.NonRegularKind(full) is { } kind)
        {
            throw new OnnxFactorizeException($"{path}: the output is {kind}, not a regular file; write the model to a file path.");
        }

        var copy = Proto.Clone();
        var tensors = ModelTensors.All(copy).ToList();

        // Every external tensor is located and bounds-checked before writing starts, but only read while the output is
        // written, streamed file to file: a model's weights are never all in memory at once.
        var external = new List<(TensorProto Tensor, ExternalRange Range)>();
        foreach (var tensor in tensors)
        {
            if (ExternalData.IsExternal(tensor))
            {
                external.Add((tensor, ExternalData.Locate(tensor, BaseDirectory, Name)));
            }
        }

        // Tensors whose bytes were left in the source .onnx on load were inline there and are inline again in the output
        // (streamed from the source), unless they have to move out like any other inline tensor.
        var own = external.Where(e => IsOwnData(e.Tensor)).Select(e => e.Tensor).ToHashSet(ReferenceEqualityComparer.Instance);
        // Only what would be inline counts toward the limit: tensors already in a data file stay there.
        var oversize = EstimatedSize(copy, external.Where(e => own.Contains(e.Tensor)).ToList()) > ProtobufLimit;
        bool Large(TensorProto t) => own.Contains(t) || InlineByteCount(t) >= ExternalData.SizeThreshold;
        var moveOut = options.ExternalData switch
        {
            ExternalDataMode.Never => [],
            ExternalDataMode.Always => tensors.Where(t => ExternalData.IsExternal(t) || InlineByteCount(t) >= ExternalData.SizeThreshold).ToList(),
            _ => external.Count > own.Count || oversize
                ? tensors.Where(t => (ExternalData.IsExternal(t) && !own.Contains(t)) || (oversize && Large(t))).ToList()
                : [],
        };

        var dataPath = OutputPaths.DataFileFor(full);
        var dataName = Path.GetFileName(dataPath);
        var reads = new List<(string Role, string Path)>();
        if (SourcePath is not null)
        {
            reads.Add(("input model", SourcePath));
        }

        reads.AddRange(OutputPaths.ReferencedFiles(this).Select(f => ("input's external data", f)));
        var writes = new List<(string Role, string Path)> { ("output", path) };
        if (moveOut.Count > 0)
        {
            writes.Add(("output's data file", dataPath));
        }

        OutputPaths.CheckDistinct(reads, writes);

        var rangeByTensor = new Dictionary<TensorProto, ExternalRange>(ReferenceEqualityComparer.Instance);
        foreach (var (tensor, range) in external)
        {
            rangeByTensor[tensor] = range;
        }

        // External tensors written inline: main-graph initializers are streamed into the output as it is written; any
        // other (rare: subgraph or attribute tensors) is read into memory here.
        var moved = moveOut.ToHashSet(ReferenceEqualityComparer.Instance);
        var toInline = external.Where(e => !moved.Contains(e.Tensor) && (options.ExternalData == ExternalDataMode.Never || own.Contains(e.Tensor))).ToList();
        var initializerIndex = new Dictionary<TensorProto, int>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < copy.Graph.Initializer.Count; i++)
        {
            initializerIndex[copy.Graph.Initializer[i]] = i;
        }

        var streamed = new Dictionary<int, ExternalRange>();
        var streamedBytes = 0L;
        CheckSize(copy, path, toInline.Sum(e => e.Range.Length));
        foreach (var (tensor, range) in toInline)
        {
            if (initializerIndex.TryGetValue(tensor, out var index))
            {
                streamed[index] = range;
                streamedBytes += range.Length;
            }
            else
            {
                Inline(tensor, ExternalData.ReadBytes(tensor, BaseDirectory, Name));
            }
        }

        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxFactorizeException($"{path}: cannot create the output folder: {e.Message}", e);
        }

        TempFiles.SweepStale(folder);
        string? dataTemp = null;
        string? dataBackup = null;
        var modelTemp = TempFiles.NewPath(folder);
        try
        {
            if (moveOut.Count > 0)
            {
                dataTemp = TempFiles.NewPath(folder);
                using (var data = new FileStream(dataTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    foreach (var tensor in moveOut)
                    {
                        var offset = (data.Position + ExternalData.Alignment - 1) / ExternalData.Alignment * ExternalData.Alignment;
                        data.SetLength(offset);
                        data.Position = offset;
                        long length;
                        if (rangeByTensor.TryGetValue(tensor, out var range))
                        {
                            range.CopyTo(data, tensor.Name, Name);
                            length = range.Length;
                        }
                        else if (tensor.HasRawData)
                        {
                            data.Write(tensor.RawData.Span);
                            length = tensor.RawData.Length;
                        }
                        else
                        {
                            var bytes = TensorCodec.EncodeTypedFields(tensor);
                            data.Write(bytes);
                            length = bytes.Length;
                        }

                        ExternalData.PointTo(tensor, dataName, offset, length);
                    }
                }
            }

            CheckSize(copy, path, streamedBytes);
            using (var output = new FileStream(modelTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                ModelFile.WriteInline(copy, streamed, output, Name);
            }

            if (dataTemp is not null)
            {
                // Data first, so the new model never points at old data; the old data is kept aside until the model is in place.
                if (File.Exists(dataPath))
                {
                    dataBackup = TempFiles.NewPath(folder);
                    File.Move(dataPath, dataBackup);
                }

                File.Move(dataTemp, dataPath, overwrite: true);
                dataTemp = null;
            }

            File.Move(modelTemp, full, overwrite: true);
            if (dataBackup is not null)
            {
                TempFiles.TryDelete(dataBackup);
                dataBackup = null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OnnxFactorizeException($"{path}: cannot write the model: {e.Message}", e);
        }
        finally
        {
            TempFiles.TryDelete(modelTemp);
            if (dataTemp is not null)
            {
                TempFiles.TryDelete(dataTemp);
            }

            if (dataBackup is not null)
            {
                // The model was not replaced: put its data file back.
                try
                {
                    File.Move(dataBackup, dataPath, overwrite: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Left as a temp file; the next write into this folder sweeps it.
                }
            }
        }
    }

    /// <summary>True for a tensor whose bytes were left inside this model's own .onnx file when it was loaded (an inline
    /// tensor read lazily, see <see cref="ModelFile"/>), as opposed to a tensor stored in an external data file.</summary>
    internal bool IsOwnData(TensorProto tensor) =>
        SourcePath is not null && ExternalData.IsExternal(tensor)
        && string.Equals(ExternalData.Entry(tensor, "location"), Path.GetFileName(SourcePath), StringComparison.Ordinal)
        && string.Equals(BaseDirectory, Path.GetDirectoryName(SourcePath), StringComparison.Ordinal);

    private static long InlineByteCount(TensorProto tensor) =>
        tensor.HasRawData ? tensor.RawData.Length
        : (long)tensor.FloatData.Count * 4 + (long)tensor.DoubleData.Count * 8 + (long)tensor.Int64Data.Count * 8
          + (long)tensor.Uint64Data.Count * 8 + (long)tensor.Int32Data.Count * 4;

    private static long EstimatedSize(ModelProto model, List<(TensorProto Tensor, ExternalRange Range)> external)
    {
        long size = 0;
        foreach (var tensor in ModelTensors.All(model))
        {
            size += InlineByteCount(tensor);
        }

        return size + external.Sum(e => e.Range.Length) + (1 << 20);
    }

    private static void Inline(TensorProto tensor, byte[] bytes)
    {
        tensor.ExternalData.Clear();
        tensor.ClearDataLocation();
        tensor.RawData = ByteString.CopyFrom(bytes);
    }

    private static void CheckSize(ModelProto model, string name, long extra = 0)
    {
        var size = extra;
        foreach (var tensor in ModelTensors.All(model))
        {
            size += InlineByteCount(tensor);
        }

        if (size > ProtobufLimit)
        {
            throw new OnnxFactorizeException($"{name}: the model's tensors total {size} bytes, over protobuf's 2 GiB limit; save with external data.");
        }
    }

    private static string FirstLine(string text)
    {
        var end = text.IndexOfAny(['\r', '\n']);
        return end < 0 ? text : text[..end];
    }
}
