using System.Globalization;
using OnnxFactorize.Analysis;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Reports;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Optimization;

/// <summary>The one entry point of the engine: load, measure shapes, factorize (by policy or by budget), write atomically,
/// validate, write reports. The CLI, the MSBuild task and library users call this with the same request type.</summary>
public static class Optimizer
{
    /// <summary>Runs <paramref name="request"/>. User mistakes and bad models throw <see cref="OnnxFactorizeException"/>
    /// (one line) before anything is written; cancellation leaves no partial file.</summary>
    public static OptimizeReport Run(OptimizeRequest request, OptimizeProgress? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        progress ??= new OptimizeProgress();
        var validation = request.EffectiveValidation;
        var model = OnnxModel.Load(request.ModelPath);

        // The model's external-data files are read too: nothing the run writes may be one of them.
        OutputPaths.CheckAll(request.Reads, request.Writes, model);
        if (validation is not null)
        {
            // Unbound dims and bad input files are reported before any work, and before anything is written.
            ModelValidator.CheckInputs(request.ModelPath, validation);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var notes = new List<string>();
        FactorizationResult result;
        BudgetPlan? plan = null;
        string how;
        if (request.Budget is not { } budget)
        {
            // With no candidate (e.g. --only '^$', a plain copy) no FLOPs are priced: the model is not run at all.
            var shapes = Factorizer.Candidates(ModelGraph.Import(model), request.Factorize).Count == 0 ? null : MeasureShapes(model, request.Dims, notes);
            IReadOnlyDictionary<string, GramAccumulator>? statistics = null;
            var total = System.Diagnostics.Stopwatch.StartNew();
            var statisticsTime = TimeSpan.Zero;
            if (request.Factorize.DataAware == DataAwareMode.Sequential)
            {
                progress.PhaseStarted?.Invoke("Factorizing group by group on calibration statistics");
                result = SequentialFactorization.Run(model, request.Factorize, request.CalibrationInputs!, request.CalibrationCacheDirectory, shapes, notes, progress.Factorize,
                    out statisticsTime, cancellationToken);
            }
            else
            {
                if (request.Factorize.DataAware != DataAwareMode.None)
                {
                    progress.PhaseStarted?.Invoke("Collecting calibration statistics");
                    statistics = DataAwareStatistics.Collect(model, request.Factorize, request.CalibrationInputs!, shapes, notes, cancellationToken, request.CalibrationCacheDirectory);
                    statisticsTime = total.Elapsed;
                }

                progress.PhaseStarted?.Invoke("Decomposing");
                result = Factorizer.Run(model, request.Factorize, progress.Factorize, cancellationToken, rules: null, measuredShapes: shapes, svdCache: null, inputStatistics: statistics);
            }

            // The statistics passes' share of the factorization time goes into the summary (console and JSON report).
            var overhead = string.Create(CultureInfo.InvariantCulture, $", statistics {statisticsTime.TotalSeconds:F2} s of {total.Elapsed.TotalSeconds:F2} s");
            how = request.Factorize.RankPolicy.ToString() + request.Factorize.DataAware switch
            {
                DataAwareMode.Whiten => $", data-aware (whiten){overhead}",
                DataAwareMode.Sequential => $", data-aware (sequential){overhead}",
                _ => "",
            };
            if (Advice.For(model, request, result, shapes, cancellationToken) is { } advice)
            {
                notes.Add(advice);
            }
        }
        else
        {
            IReadOnlyDictionary<string, GramAccumulator>? statistics = null;
            if (request.Factorize.DataAware == DataAwareMode.Whiten)
            {
                progress.PhaseStarted?.Invoke("Collecting calibration statistics");
                statistics = DataAwareStatistics.Collect(model, request.Factorize, request.CalibrationInputs!, MeasureShapes(model, request.Dims, notes), notes, cancellationToken,
                    request.CalibrationCacheDirectory);
            }

            progress.PhaseStarted?.Invoke($"Planning ranks for {budget.DescribeBudget()}");
            var planned = BudgetPlanner.Run(model, budget with { Factorize = request.Factorize, InputStatistics = statistics }, progress.Plan, cancellationToken);
            (result, plan) = (planned.Factorization, planned.Plan);
            how = string.Create(CultureInfo.InvariantCulture, $"{budget.DescribeBudget()}{(statistics is null ? "" : " with data-aware (whiten) rungs")}, measured {plan.FinalError:G3} on {plan.SampleCount} calibration sample(s)");
        }

        // Last point where Ctrl+C leaves nothing behind; Save itself is atomic (temporary file, then rename).
        cancellationToken.ThrowIfCancellationRequested();
        if (request.OutputPath is { } output)
        {
            result.Model.Save(output, new SaveOptions { ExternalData = request.ExternalData });
        }

        ValidationResult? validated = null;
        if (validation is not null)
        {
            progress.PhaseStarted?.Invoke("Validating in ONNX Runtime");
            validated = ModelValidator.Compare(request.ModelPath, request.OutputPath!, validation, progress.Validation, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            if (plan is { Factorized: true })
            {
                // A budget result is re-measured on the validation samples (held out unless the user's own inputs serve both).
                validated = validated with { HeldOut = plan.Check(validated, heldOut: request.Budget!.Inputs.Path is null) };
            }
        }

        var report = new OptimizeReport
        {
            ModelPath = request.ModelPath,
            OutputPath = request.OutputPath,
            Factorization = result,
            RankChoice = how,
            ParamsBefore = ModelCost.CountParameters(model.Proto),
            ParamsAfter = ModelCost.CountParameters(result.Model.Proto),
            Plan = plan,
            Validation = validated,
            Notes = notes,
            PeakRssBytes = PeakMemory.Bytes(),
        };
        WriteReports(report, request.JsonReportPath, request.HtmlReportPath);
        return report;
    }

    /// <summary>What factorization would do per node under <paramref name="options"/>, without writing a model; symbolic
    /// dims bound by <paramref name="dims"/> let intermediate shapes (and so FLOPs) be measured. With
    /// <paramref name="calibrationInputs"/> (a .npy/.pb file or folder), the statistics of data-aware factorization are
    /// collected from them and every node that has them is planned fitted to the data, with its output-space spectrum. The
    /// notes carry an <c>advice:</c> line when the policy would factorize nothing or little.</summary>
    public static (ModelAnalysis Analysis, IReadOnlyList<string> Notes) Analyze(string modelPath, FactorizeOptions options, IReadOnlyDictionary<string, long> dims,
        IProgress<FactorizeProgress>? progress = null, CancellationToken cancellationToken = default, string? calibrationInputs = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var model = OnnxModel.Load(modelPath);
        var notes = new List<string>();
        var shapes = MeasureShapes(model, dims, notes);
        var statistics = calibrationInputs is null ? null
            : DataAwareStatistics.Collect(model, options with { DataAware = DataAwareMode.Whiten }, calibrationInputs, shapes, notes, cancellationToken);
        var analysis = ModelAnalyzer.Analyze(model, options, progress, cancellationToken, rules: null, shapes, statistics, calibrationInputs);
        if (Advice.ForAnalysis(model, modelPath, options, analysis, shapes, cancellationToken) is { } advice)
        {
            notes.Add(advice);
        }

        return (analysis, notes);
    }

    /// <summary>Writes the JSON and HTML reports of <paramref name="report"/> where asked (folders created).</summary>
    public static void WriteReports(OptimizeReport report, string? jsonPath, string? htmlPath)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (jsonPath is not null)
        {
            OutputPaths.EnsureFolder(jsonPath);
            var summary = new ReportSummary(report.ModelPath, report.OutputPath, report.RankChoice, report.ParamsBefore, report.ParamsAfter, report.SummaryText())
            {
                PeakRssBytes = report.PeakRssBytes,
            };
            JsonReport.WriteFile(jsonPath, summary, report.Factorization.Decisions, report.Validation, report.Plan);
        }

        if (htmlPath is not null && report.Validation is { } validation)
        {
            OutputPaths.EnsureFolder(htmlPath);
            HtmlReport.WriteFile(validation, htmlPath, report.Plan, report.Factorization.Decisions);
        }
    }

    // Measures the shapes a model leaves undeclared, so per-node FLOPs (and auto's method choice) use real spatial sizes;
    // when that is impossible (an unbound dim, a model ORT cannot run) the work goes on with declared shapes only.
    private static IReadOnlyDictionary<string, long[]>? MeasureShapes(OnnxModel model, IReadOnlyDictionary<string, long> dims, List<string> notes)
    {
        if (dims.TryGetValue(InputOptions.AnyDim, out var any))
        {
            notes.Add($"note: symbolic dims not bound by name are set to {any} (--dim *={any}); bind one with --dim name=value to choose its size.");
        }

        try
        {
            return ModelCost.ValueShapes(model, dims);
        }
        catch (OnnxFactorizeException e)
        {
            notes.Add($"note: FLOPs use declared shapes only ({e.Message.TrimEnd('.')}); bind symbolic dims with --dim to measure them.");
            return null;
        }
    }
}
