namespace OnnxFactorize.MSBuild;

/// <summary>The codes the build reports with, documented in docs/msbuild.md.</summary>
internal static class Diagnostics
{
    /// <summary>Validation ran and a threshold failed.</summary>
    public const string ThresholdFailed = "OFZ1001";

    /// <summary>Bad input: missing model, bad or conflicting metadata, a model the tool cannot read or bind.</summary>
    public const string BadInput = "OFZ1002";

    /// <summary>The tool failed unexpectedly (a bug in onnx-factorize).</summary>
    public const string InternalError = "OFZ1003";

    /// <summary>The tool could not be started or ended in an unexpected way (cancelled, missing runtime).</summary>
    public const string ToolFailed = "OFZ1004";

    /// <summary>Some nodes were considered and left unchanged.</summary>
    public const string NodesSkipped = "OFZ2001";

    /// <summary>No node was factorized: the output is the original model.</summary>
    public const string NothingFactorized = "OFZ2002";

    /// <summary>The tool succeeded but wrote to its error stream.</summary>
    public const string ToolWarning = "OFZ2003";

    /// <summary>The rank policy factorized little (under 5 % of the candidates' FLOPs saved): what a rank ratio or an error
    /// budget would do instead.</summary>
    public const string Advice = "OFZ2004";
}
