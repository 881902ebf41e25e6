using System.Globalization;

namespace OnnxFactorize.Validation;

/// <summary>A half-open integer range [Min, MaxExclusive) for generated integer inputs.</summary>
public sealed record IntRange(long Min, long MaxExclusive);

/// <summary>Where validation inputs come from: seeded random values, or a .pb/.npy file or folder; validated once by <see cref="Validate"/>.</summary>
public sealed record InputOptions
{
    /// <summary>A .pb/.npy file, a folder of them, or a folder of test_data_set_* folders; null generates random inputs.</summary>
    public string? Path { get; init; }

    /// <summary>Values for symbolic or missing dims: by dim name (batch=1) or by input and axis (input_ids:0=1).</summary>
    public IReadOnlyDictionary<string, long> Dims { get; init; } = new Dictionary<string, long>();

    /// <summary>Seed of the random generator.</summary>
    public int Seed { get; init; }

    /// <summary>Number of random samples to generate (ignored when <see cref="Path"/> is set).</summary>
    public int RandomSamples { get; init; } = 1;

    /// <summary>Range of generated integer values per input name; inputs not listed use [0, 10).</summary>
    public IReadOnlyDictionary<string, IntRange> IntRanges { get; init; } = new Dictionary<string, IntRange>();

    /// <summary>Optional int64 labels (.npy or .pb) for classification accuracy, one per row of class scores, over all samples in order.</summary>
    public string? LabelsPath { get; init; }

    /// <summary>Default range of generated integers.</summary>
    public static IntRange DefaultIntRange { get; } = new(0, 10);

    /// <summary>Parses "name=value" dim bindings (e.g. "batch=1", "seq=128"), naming the bad entry on failure.</summary>
    public static IReadOnlyDictionary<string, long> ParseDims(IEnumerable<string> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var dims = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var b in bindings)
        {
            var eq = b.LastIndexOf('=');
            if (eq <= 0 || !long.TryParse(b.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
            {
                throw new OnnxFactorizeException($"Dim binding '{b}' is not name=value with a positive integer value (e.g. batch=1).");
            }

            dims[b[..eq].Trim()] = value;
        }

        return dims;
    }

    /// <summary>Checks every option once, with messages that name the bad value.</summary>
    public void Validate()
    {
        foreach (var (name, value) in Dims)
        {
            if (value <= 0)
            {
                throw new OnnxFactorizeException($"Dim '{name}' is bound to {value}; dims must be positive.");
            }
        }

        foreach (var (name, range) in IntRanges)
        {
            if (range.MaxExclusive <= range.Min)
            {
                throw new OnnxFactorizeException($"Integer range of input '{name}' is [{range.Min}, {range.MaxExclusive}), which is empty; the upper bound is exclusive and must exceed the lower.");
            }
        }

        if (RandomSamples < 1)
        {
            throw new OnnxFactorizeException($"RandomSamples is {RandomSamples}; it must be at least 1.");
        }

        if (Path is not null && !File.Exists(Path) && !Directory.Exists(Path))
        {
            throw new OnnxFactorizeException($"Input path '{Path}' does not exist; give a .pb/.npy file or a folder of them.");
        }

        if (LabelsPath is not null && !File.Exists(LabelsPath))
        {
            throw new OnnxFactorizeException($"Labels file '{LabelsPath}' does not exist; give an int64 .npy or .pb file.");
        }
    }
}
