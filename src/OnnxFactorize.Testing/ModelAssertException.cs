using OnnxFactorize.Validation;
using Xunit.Sdk;

namespace OnnxFactorize.Testing;

/// <summary>Thrown by <see cref="ModelAssert"/> when a threshold breaks; the message lists every failure (output, metric, value, limit, excess).</summary>
public sealed class ModelAssertException : XunitException
{
    /// <summary>Creates the exception from a failed validation result.</summary>
    public ModelAssertException(ValidationResult result)
        : base(Describe(result)) => Result = result;

    /// <summary>The full validation result, for further inspection.</summary>
    public ValidationResult Result { get; }

    private static string Describe(ValidationResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var lines = result.Failures.Select(f => "  " + f.Message);
        return $"ModelAssert failed: {result.Failures.Count} threshold(s) broken comparing '{result.Optimized.Path}' against '{result.Original.Path}':{Environment.NewLine}{string.Join(Environment.NewLine, lines)}";
    }
}
