namespace OnnxFactorize.Cli;

/// <summary>The process exit codes the tool promises (documented in --help).</summary>
internal static class ExitCodes
{
    /// <summary>Success (and, when validation ran, every threshold held).</summary>
    public const int Success = 0;

    /// <summary>Validation ran and at least one threshold failed.</summary>
    public const int ThresholdFailed = 1;

    /// <summary>Bad usage or bad input: unknown or conflicting option, bad value, unreadable model, unwritable output.</summary>
    public const int BadInput = 2;

    /// <summary>An unexpected internal error (a bug); rerun with --verbose for the stack trace.</summary>
    public const int InternalError = 3;

    /// <summary>Cancelled by Ctrl+C or SIGTERM (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}
