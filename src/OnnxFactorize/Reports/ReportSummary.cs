namespace OnnxFactorize.Reports;

/// <summary>What one optimization did, as the reports show it: paths, how ranks were chosen, parameters before and after,
/// and the summary text ("k of n node(s) factorized …").</summary>
public sealed record ReportSummary(string ModelPath, string? OutputPath, string RankChoice, long ParamsBefore, long ParamsAfter, string Text)
{
    /// <summary>Peak resident memory of the process during the run (see <see cref="PeakMemory"/>), or null if unknown.</summary>
    public long? PeakRssBytes { get; init; }
}
