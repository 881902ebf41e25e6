namespace OnnxFactorize;

/// <summary>A user-facing failure: bad input, bad option, unreadable model. Its message is one line that names the file,
/// node or option and says what to do; front ends print it without a stack trace.</summary>
public class OnnxFactorizeException : Exception
{
    /// <summary>Creates the exception with a one-line message.</summary>
    public OnnxFactorizeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a one-line message and the low-level cause.</summary>
    public OnnxFactorizeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with no message (serialization and generic use).</summary>
    public OnnxFactorizeException()
    {
    }
}
