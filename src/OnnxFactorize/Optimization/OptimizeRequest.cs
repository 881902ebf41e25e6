using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Optimization;

/// <summary>One optimization: the model, where to write it, how to choose ranks (a rank policy in <see cref="Factorize"/>,
/// or a measured <see cref="Budget"/>), whether to validate, and which reports to write. Every front end (CLI, MSBuild,
/// library) builds one of these and calls <see cref="Optimizer.Run"/>; the rules between options live in <see cref="Validate"/>.</summary>
public sealed record OptimizeRequest
{
    /// <summary>The model to optimize (never modified).</summary>
    public required string ModelPath { get; init; }

    /// <summary>Where the optimized model is written (atomically); null keeps it in memory only (no validation then).</summary>
    public string? OutputPath { get; init; }

    /// <summary>Rank policy, methods, node filters and SVD settings (with a budget: the settings the ladders start from).</summary>
    public FactorizeOptions Factorize { get; init; } = new();

    /// <summary>Choose ranks by measurement within this budget instead of by the rank policy; null for the policy.</summary>
    public BudgetOptions? Budget { get; init; }

    /// <summary>Compare the optimized model with the original in ONNX Runtime; null to skip. With a relative-L2 budget and no
    /// explicit relative-L2 threshold, validation checks the budget's limit on its own samples.</summary>
    public ValidationOptions? Validation { get; init; }

    /// <summary>Bindings of symbolic dims, used to measure intermediate shapes (so FLOPs use real spatial sizes).</summary>
    public IReadOnlyDictionary<string, long> Dims { get; init; } = new Dictionary<string, long>();

    /// <summary>Real calibration inputs for data-aware factorization (<see cref="FactorizeOptions.DataAware"/>): a .pb/.npy
    /// file, a folder of them, or a folder of test_data_set_* folders (as <see cref="Calibration.CalibrationInputs"/> reads
    /// them). Required with data-aware factorization, unused without it.</summary>
    public string? CalibrationInputs { get; init; }

    /// <summary>Data-aware factorization: folder where calibration statistics are cached (calib-*.bin, keyed by the content
    /// hashes of the model(s), the request and the inputs), so an identical rerun collects nothing; null for no cache.</summary>
    public string? CalibrationCacheDirectory { get; init; }

    /// <summary>How tensors are stored in the written model.</summary>
    public ExternalDataMode ExternalData { get; init; } = ExternalDataMode.Auto;

    /// <summary>Where the JSON report (docs/report-schema.md) is written, with or without validation; null for none.</summary>
    public string? JsonReportPath { get; init; }

    /// <summary>Where the HTML report is written (needs <see cref="Validation"/>); null for none.</summary>
    public string? HtmlReportPath { get; init; }

    /// <summary>The validation options actually used: with a budget, validation runs on held-out samples (a different seed,
    /// at least as many as calibration) and checks the budget's limit as the relative-L2 threshold when the budget is a
    /// relative-L2 error and no such threshold was given.</summary>
    public ValidationOptions? EffectiveValidation
    {
        get
        {
            if (Validation is not { } validation || Budget is not { } budget)
            {
                return Validation;
            }

            validation = validation with { Inputs = validation.Inputs.HeldOutFrom(budget.Inputs) };
            if (budget.MaxError is not { } maxError || validation.Thresholds.MaxRelL2Error is not null)
            {
                return validation;
            }

            return validation with { Thresholds = validation.Thresholds with { MaxRelL2Error = maxError } };
        }
    }

    /// <summary>What the run reads, by the role the user knows it by.</summary>
    internal (string Role, string? Path)[] Reads =>
    [
        ("input model", ModelPath), ("--inputs", Validation?.Inputs.Path), ("--labels", Validation?.Inputs.LabelsPath),
        ("--inputs", Budget?.Inputs.Path), ("--labels", Budget?.Inputs.LabelsPath), ("--inputs", CalibrationInputs),
    ];

    /// <summary>What the run writes, by the role the user knows it by.</summary>
    internal (string Role, string? Path)[] Writes =>
    [
        ("output", OutputPath), ("output's data file", OutputPath is null ? null : OutputPaths.DataFileFor(OutputPath)),
        ("--report", JsonReportPath), ("--html", HtmlReportPath), ("--cache-dir", Budget?.CacheDirectory), ("--cache-dir", CalibrationCacheDirectory),
    ];

    /// <summary>Checks the options and the rules between them; throws <see cref="OnnxFactorizeException"/> with one line
    /// naming the bad value or path. Returns this request.</summary>
    public OptimizeRequest Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelPath))
        {
            throw new OnnxFactorizeException("no model given; pass the path of an .onnx file.");
        }

        Factorize.Validate();
        Budget?.Validate();
        Validation?.Validate();
        if (Validation is not null && OutputPath is null)
        {
            throw new OnnxFactorizeException("validation compares the written model with the original; give an output path.");
        }

        if (HtmlReportPath is not null && Validation is null)
        {
            throw new OnnxFactorizeException($"the HTML report '{HtmlReportPath}' shows a validation; validate too, or drop the HTML report.");
        }

        if (Factorize.DataAware != DataAwareMode.None)
        {
            if (string.IsNullOrWhiteSpace(CalibrationInputs))
            {
                throw new OnnxFactorizeException($"data-aware factorization ({Factorize.DataAware.ToString().ToLowerInvariant()}) fits the factors to real data; give calibration inputs (--inputs <file|dir>, MSBuild Inputs, or OptimizeRequest.CalibrationInputs).");
            }

            if (Budget is not null && Factorize.DataAware == DataAwareMode.Sequential)
            {
                throw new OnnxFactorizeException("data-aware sequential does not combine with a budget (the planner measures every node's rungs on the original model's inputs); use --data-aware whiten with a budget, or drop the budget.");
            }
        }
        else if (CalibrationInputs is not null)
        {
            throw new OnnxFactorizeException($"calibration inputs '{CalibrationInputs}' are only read by data-aware factorization; set data-aware to whiten or sequential, or drop them.");
        }

        OutputPaths.CheckAll(Reads, Writes);
        return this;
    }
}
