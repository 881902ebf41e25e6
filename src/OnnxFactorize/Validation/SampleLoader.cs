using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxFactorize.Validation;

/// <summary>Produces validation samples: from .pb/.npy files and folders, or seeded random values shaped by the model's declared inputs.</summary>
public static class SampleLoader
{
    /// <summary>Loads samples from a file, a folder of files (one sample) or a folder of test_data_set_* folders (one sample each).</summary>
    public static IReadOnlyList<Sample> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path))
        {
            return [new Sample { Source = path, Inputs = [TensorFiles.Read(path)] }];
        }

        if (!Directory.Exists(path))
        {
            throw new OnnxFactorizeException($"Input path '{path}' does not exist; give a .pb/.npy file or a folder of them.");
        }

        var sets = Directory.GetDirectories(path, "test_data_set_*").OrderBy(NumericSuffix).ThenBy(d => d, StringComparer.Ordinal).ToList();
        if (sets.Count > 0)
        {
            return [.. sets.Select(LoadFolder)];
        }

        return [LoadFolder(path)];
    }

    /// <summary>Generates <paramref name="count"/> seeded random samples: a fixed value where <see cref="InputOptions.Values"/>
    /// gives one, else float normal(0,1), integers uniform in their <see cref="InputOptions.IntRanges"/> range (an integer
    /// input with neither is refused), bool fair coin.</summary>
    public static IReadOnlyList<Sample> Generate(IReadOnlyList<ModelInput> inputs, InputOptions options, int count = 1) => [.. GenerateEach(inputs, options, count)];

    /// <summary>The samples of <see cref="Generate"/>, the same values, each made only when enumerated (the options are
    /// checked at once), so a caller that streams them holds one at a time.</summary>
    public static IEnumerable<Sample> GenerateEach(IReadOnlyList<ModelInput> inputs, InputOptions options, int count = 1)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(options);
        var shapes = ResolveShapes(inputs, options.Dims);
        foreach (var name in options.Values.Keys.Concat(options.IntRanges.Keys).Where(n => inputs.All(i => i.Name != n)))
        {
            throw new OnnxFactorizeException($"Input value or range for '{name}' names no model input; the model takes {DescribeAll(inputs)}.");
        }

        var unset = inputs.Where(i => IsInteger(i.ElementType) && !options.IntRanges.ContainsKey(i.Name) && !options.Values.ContainsKey(i.Name)).ToList();
        if (unset.Count > 0)
        {
            var first = unset[0].Name;
            throw new OnnxFactorizeException(
                $"Integer input(s) {string.Join(", ", unset.Select(i => $"'{i.Name}' ({i.Describe()})"))} have no sane generated value; give one with --input-value {first}=<value> (e.g. a sample rate), a range with --input-range {first}=<min>:<max> (e.g. token ids below the vocabulary size), or real data with --inputs.");
        }

        return Each();

        IEnumerable<Sample> Each()
        {
            var random = new Random(options.Seed);
            for (var s = 0; s < count; s++)
            {
                var tensors = new List<TensorData>();
                for (var i = 0; i < inputs.Count; i++)
                {
                    tensors.Add(options.Values.TryGetValue(inputs[i].Name, out var value)
                        ? Constant(inputs[i], shapes[i], value)
                        : Random(inputs[i], shapes[i], random, options.IntRanges.GetValueOrDefault(inputs[i].Name, new IntRange(0, 1))));
                }

                yield return new Sample { Source = $"random #{s} (seed {options.Seed})", Inputs = tensors };
            }
        }
    }

    /// <summary>Concrete shapes for every input, binding symbolic dims; throws one error naming each unbound dim and its input.</summary>
    public static IReadOnlyList<long[]> ResolveShapes(IReadOnlyList<ModelInput> inputs, IReadOnlyDictionary<string, long> dims)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(dims);
        var shapes = new List<long[]>();
        var unbound = new List<string>();
        string? example = null;
        foreach (var input in inputs)
        {
            var shape = new long[input.Dims.Count];
            for (var axis = 0; axis < shape.Length; axis++)
            {
                var sym = input.SymbolicDims[axis];
                if (input.Dims[axis] > 0)
                {
                    shape[axis] = input.Dims[axis];
                }
                else if (dims.TryGetValue($"{input.Name}:{axis}", out var byAxis))
                {
                    shape[axis] = byAxis;
                }
                else if (!string.IsNullOrEmpty(sym) && dims.TryGetValue(sym, out var byName))
                {
                    shape[axis] = byName;
                }
                else if (dims.TryGetValue(InputOptions.AnyDim, out var byDefault))
                {
                    // --dim *=N: every dim no other binding names (ONNX Runtime's perf tool binds free dims to 1 likewise).
                    shape[axis] = byDefault;
                }
                else
                {
                    example ??= string.IsNullOrEmpty(sym) ? $"{input.Name}:{axis}" : sym;
                    unbound.Add(string.IsNullOrEmpty(sym)
                        ? $"axis {axis} of input '{input.Name}' (bind with {input.Name}:{axis}=N)"
                        : $"'{sym}' (axis {axis} of input '{input.Name}')");
                }
            }

            shapes.Add(shape);
        }

        if (unbound.Count > 0)
        {
            throw new OnnxFactorizeException($"Unbound dims: {string.Join("; ", unbound)}; bind each with --dim name=value, e.g. --dim {example}=1 (MSBuild: Dims=\"{example}=1\").");
        }

        for (var i = 0; i < inputs.Count; i++)
        {
            CheckSize(inputs[i], shapes[i]);
        }

        return shapes;
    }

    /// <summary>Throws when a generated input of <paramref name="shape"/> would exceed <see cref="MaxInputBytes"/>, naming its size.</summary>
    public static void CheckSize(ModelInput input, IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(shape);
        var elementSize = input.ElementType switch
        {
            TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,
            TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
            TensorElementType.Float16 or TensorElementType.Int16 or TensorElementType.UInt16 or TensorElementType.BFloat16 => 2,
            _ => 1,
        };

        // Divide instead of multiplying, so no product of dims overflows.
        var limit = MaxInputBytes / elementSize;
        long elements = 1;
        var tooLarge = false;
        foreach (var d in shape)
        {
            if (d > 0 && elements > limit / d)
            {
                tooLarge = true;
                break;
            }

            elements *= Math.Max(d, 0);
        }

        if (tooLarge)
        {
            var bytes = shape.Aggregate((double)elementSize, (a, d) => a * d);
            throw new OnnxFactorizeException(string.Create(CultureInfo.InvariantCulture,
                $"Input '{input.Name}' of shape {TensorData.FormatShape(shape)} would take {bytes / (1L << 30):G4} GiB, over the {MaxInputBytes >> 30} GiB limit for one generated input; bind smaller dims with --dim name=value."));
        }
    }

    /// <summary>Largest generated input tensor, in bytes (1 GiB): a larger one is refused before anything is allocated.</summary>
    public const long MaxInputBytes = 1L << 30;

    /// <summary>Matches a sample's tensors to the model inputs (by name, the rest in order) and checks type and shape; returns them in model order.</summary>
    public static IReadOnlyList<TensorData> Bind(Sample sample, IReadOnlyList<ModelInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(inputs);
        var bound = new TensorData?[inputs.Count];
        var unnamed = new List<(int Position, TensorData Tensor)>();
        for (var k = 0; k < sample.Inputs.Count; k++)
        {
            var t = sample.Inputs[k];
            var index = inputs.ToList().FindIndex(i => i.Name == t.Name);
            if (index >= 0)
            {
                bound[index] = t;
            }
            else
            {
                unnamed.Add((k, t));
            }
        }

        // Tensors whose names match no input fill the still-unbound inputs in order (ONNX test data: input_K is the K-th input).
        var free = new Queue<int>(Enumerable.Range(0, inputs.Count).Where(i => bound[i] is null));
        foreach (var (_, tensor) in unnamed)
        {
            if (!free.TryDequeue(out var slot))
            {
                throw new OnnxFactorizeException($"{sample.Source}: tensor '{tensor.Name}' matches no model input by name or position; the model takes {DescribeAll(inputs)}.");
            }

            bound[slot] = tensor.WithName(inputs[slot].Name);
        }

        var result = new List<TensorData>();
        for (var i = 0; i < inputs.Count; i++)
        {
            var expected = inputs[i];
            var t = bound[i] ?? throw new OnnxFactorizeException($"{sample.Source}: missing input '{expected.Name}' (expected {expected.Describe()}).");
            if (t.ElementType != expected.ElementType)
            {
                throw new OnnxFactorizeException($"{sample.Source}: input '{expected.Name}' is {TensorData.ElementTypeName(t.ElementType)}{TensorData.FormatShape(t.Shape)} but the model expects {expected.Describe()}.");
            }

            var shapeOk = t.Shape.Count == expected.Dims.Count && t.Shape.Select((d, a) => expected.Dims[a] <= 0 || expected.Dims[a] == d).All(ok => ok);
            if (!shapeOk)
            {
                throw new OnnxFactorizeException($"{sample.Source}: input '{expected.Name}' has shape {TensorData.FormatShape(t.Shape)} but the model expects {expected.Describe()}.");
            }

            result.Add(t);
        }

        return result;
    }

    /// <summary>Reads int64 (or other integer) labels from a .npy or .pb file, flattened.</summary>
    public static long[] ReadLabels(string path)
    {
        var t = TensorFiles.Read(path);
        if (t.IsFloatingPoint || t.ElementType == TensorElementType.Bool)
        {
            throw new OnnxFactorizeException($"{path}: labels must be integers (int64), found {TensorData.ElementTypeName(t.ElementType)}.");
        }

        return Array.ConvertAll(t.ToDoubles(), v => (long)v);
    }

    private static Sample LoadFolder(string folder)
    {
        var files = Directory.GetFiles(folder).Where(TensorFiles.IsTensorFile).ToList();
        var outputs = files.Where(f => Path.GetFileName(f).StartsWith("output_", StringComparison.OrdinalIgnoreCase));
        var inputs = files.Except(outputs).Where(f => !Path.GetFileNameWithoutExtension(f).Equals("labels", StringComparison.OrdinalIgnoreCase));
        var sample = new Sample
        {
            Source = folder,
            Inputs = [.. Order(inputs).Select(TensorFiles.Read)],
            ExpectedOutputs = [.. Order(outputs).Select(TensorFiles.Read)],
        };
        if (sample.Inputs.Count == 0)
        {
            throw new OnnxFactorizeException($"{folder}: no .pb or .npy input files found.");
        }

        return sample;
    }

    private static IEnumerable<string> Order(IEnumerable<string> files) => files.OrderBy(NumericSuffix).ThenBy(f => f, StringComparer.Ordinal);

    private static long NumericSuffix(string path)
    {
        var stem = Path.GetFileNameWithoutExtension(path.TrimEnd('/'));
        var underscore = stem.LastIndexOf('_');
        return underscore >= 0 && long.TryParse(stem.AsSpan(underscore + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue;
    }

    private static string DescribeAll(IReadOnlyList<ModelInput> inputs) => string.Join(", ", inputs.Select(i => $"'{i.Name}' {i.Describe()}"));

    private static TensorData Random(ModelInput input, long[] shape, Random random, IntRange range)
    {
        var n = TensorData.ElementCountOf(shape);
        Array data = input.ElementType switch
        {
            TensorElementType.Float => Fill(n, () => (float)Normal(random)),
            TensorElementType.Double => Fill(n, () => Normal(random)),
            TensorElementType.Float16 => Fill(n, () => new Float16(BitConverter.HalfToUInt16Bits((Half)Normal(random)))),
            TensorElementType.Bool => Fill(n, () => random.Next(2) == 1),
            TensorElementType.Int64 => Fill(n, () => random.NextInt64(range.Min, range.MaxExclusive)),
            TensorElementType.Int32 => Fill(n, () => (int)random.NextInt64(range.Min, range.MaxExclusive)),
            TensorElementType.Int16 => Fill(n, () => (short)random.NextInt64(range.Min, range.MaxExclusive)),
            TensorElementType.Int8 => Fill(n, () => (sbyte)random.NextInt64(range.Min, range.MaxExclusive)),
            TensorElementType.UInt8 => Fill(n, () => (byte)random.NextInt64(range.Min, range.MaxExclusive)),
            TensorElementType.UInt16 => Fill(n, () => (ushort)random.NextInt64(range.Min, range.MaxExclusive)),
            TensorElementType.UInt32 => Fill(n, () => (uint)random.NextInt64(range.Min, range.MaxExclusive)),
            TensorElementType.UInt64 => Fill(n, () => (ulong)random.NextInt64(range.Min, range.MaxExclusive)),
            _ => throw new OnnxFactorizeException($"Input '{input.Name}' has element type {input.ElementType}, which cannot be generated; give inputs from files."),
        };
        return new TensorData(input.Name, input.ElementType, shape, data);
    }

    private static bool IsInteger(TensorElementType t) => t is TensorElementType.Int64 or TensorElementType.Int32 or TensorElementType.Int16
        or TensorElementType.Int8 or TensorElementType.UInt8 or TensorElementType.UInt16 or TensorElementType.UInt32 or TensorElementType.UInt64;

    private static TensorData Constant(ModelInput input, long[] shape, double v)
    {
        var n = TensorData.ElementCountOf(shape);
        Array data = input.ElementType switch
        {
            TensorElementType.Float => Fill(n, () => (float)v),
            TensorElementType.Double => Fill(n, () => v),
            TensorElementType.Float16 => Fill(n, () => new Float16(BitConverter.HalfToUInt16Bits((Half)v))),
            TensorElementType.Bool => Fill(n, () => v != 0),
            TensorElementType.Int64 => Fill(n, () => (long)v),
            TensorElementType.Int32 => Fill(n, () => (int)v),
            TensorElementType.Int16 => Fill(n, () => (short)v),
            TensorElementType.Int8 => Fill(n, () => (sbyte)v),
            TensorElementType.UInt8 => Fill(n, () => (byte)v),
            TensorElementType.UInt16 => Fill(n, () => (ushort)v),
            TensorElementType.UInt32 => Fill(n, () => (uint)v),
            TensorElementType.UInt64 => Fill(n, () => (ulong)v),
            _ => throw new OnnxFactorizeException($"Input '{input.Name}' has element type {input.ElementType}, which cannot be generated; give inputs from files."),
        };
        return new TensorData(input.Name, input.ElementType, shape, data);
    }

    private static T[] Fill<T>(long n, Func<T> next)
    {
        var a = new T[n];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = next();
        }

        return a;
    }

    // Box–Muller transform: two uniforms to one standard normal.
    private static double Normal(Random random) => Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
}
