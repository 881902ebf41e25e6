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

    /// <summary>Number of random samples to generate (ignored when <see cref="Path"/> is set); as many as a budget's calibration by default.</summary>
    public int RandomSamples { get; init; } = 4;

    /// <summary>Range of generated integer values per input name. An integer input needs a range, a value in
    /// <see cref="Values"/>, or data from <see cref="Path"/>: made-up integers (a sample rate of 3, a token id past the
    /// vocabulary) would validate nothing real.</summary>
    public IReadOnlyDictionary<string, IntRange> IntRanges { get; init; } = new Dictionary<string, IntRange>();

    /// <summary>A fixed value per input name (every element of a generated tensor), e.g. sample_rate=16000; any element type.</summary>
    public IReadOnlyDictionary<string, double> Values { get; init; } = new Dictionary<string, double>();

    /// <summary>Optional int64 labels (.npy or .pb) for classification accuracy, one per row of class scores, over all samples in order.</summary>
    public string? LabelsPath { get; init; }

    /// <summary>These options for validating a budget result: when both generate random samples, a different seed (so no
    /// validation sample is a calibration sample) and at least as many samples as <paramref name="calibration"/>.</summary>
    public InputOptions HeldOutFrom(InputOptions calibration)
    {
        ArgumentNullException.ThrowIfNull(calibration);
        if (Path is not null || calibration.Path is not null)
        {
            return this;
        }

        return this with { Seed = HeldOutSeed(calibration.Seed), RandomSamples = Math.Max(RandomSamples, calibration.RandomSamples) };
    }

    /// <summary>The validation seed derived from a calibration seed (a fixed bit flip, so it always differs).</summary>
    public static int HeldOutSeed(int calibrationSeed) => calibrationSeed ^ 0x48454C44;

    /// <summary>One line saying where samples come from.</summary>
    public string Describe() => Path is { } p ? $"inputs from {p}" : $"{RandomSamples} seeded random sample(s), seed {Seed}";

    /// <summary>Parses "name=value" input values (e.g. "sample_rate=16000"), naming the bad entry on failure.</summary>
    public static IReadOnlyDictionary<string, double> ParseValues(IEnumerable<string> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var b in bindings)
        {
            var eq = b.LastIndexOf('=');
            if (eq <= 0 || !double.TryParse(b.AsSpan(eq + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            {
                throw new OnnxFactorizeException($"Input value '{b}' is not name=number (e.g. sample_rate=16000).");
            }

            values[b[..eq].Trim()] = value;
        }

        return values;
    }

    /// <summary>Parses "name=min:max" integer ranges, max exclusive (e.g. "input_ids=0:30522"), naming the bad entry on failure.</summary>
    public static IReadOnlyDictionary<string, IntRange> ParseRanges(IEnumerable<string> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var ranges = new Dictionary<string, IntRange>(StringComparer.Ordinal);
        foreach (var b in bindings)
        {
            var eq = b.LastIndexOf('=');
            var parts = eq > 0 ? b[(eq + 1)..].Split(':') : [];
            if (parts.Length != 2
                || !long.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var min)
                || !long.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var max))
            {
                throw new OnnxFactorizeException($"Input range '{b}' is not name=min:max with integers, max exclusive (e.g. input_ids=0:30522).");
            }

            ranges[b[..eq].Trim()] = new IntRange(min, max);
        }

        return ranges;
    }

    /// <summary>The dim name that binds every symbolic dim no other binding names: <c>--dim *=1</c>.</summary>
    public const string AnyDim = "*";

    /// <summary>Parses "name=value" dim bindings (e.g. "batch=1", "seq=128", "*=1" for every other dim), naming the bad entry on failure.</summary>
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
