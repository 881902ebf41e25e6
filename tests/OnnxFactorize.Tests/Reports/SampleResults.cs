using OnnxFactorize.Passes;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Reports;

public static class SampleResults
{
    public static ValidationResult Failed() => new()
    {
        Original = new ModelSummary { Path = "models/resnet <orig>.onnx", FileBytes = 1_000_000, Parameters = 250_000, Flops = 4_000_000 },
        Optimized = new ModelSummary { Path = "models/resnet.opt.onnx", FileBytes = 400_000, Parameters = 100_000, Flops = 1_500_000 },
        SampleCount = 4,
        Outputs =
        [
            new OutputMetrics { Name = "logits", Shape = [1, 10], ElementCount = 40, MaxAbsError = 0.12, MeanAbsError = 0.03, RelL2Error = 0.021, Cosine = 0.9991, Classification = new ClassificationMetrics { Rows = 4, Top1Agreement = 0.75, OriginalAccuracy = 1, OptimizedAccuracy = 0.75 } },
            new OutputMetrics { Name = "features", Shape = [1, 8, 1], ElementCount = 32, MaxAbsError = 0.5, MeanAbsError = 0.1, RelL2Error = double.PositiveInfinity, Cosine = 0.97, NonFiniteOptimized = 2 },
        ],
        Latency = new LatencyResult { Original = new(4.0, 4.5, 3.9), Optimized = new(2.0, 2.4, 1.9), Speedup = 2.0, SpeedupLow = 1.8, SpeedupHigh = 2.2, Runs = 20, WarmupRuns = 3 },
        Thresholds = new ValidationThresholds { MaxRelL2Error = 0.01, MinSpeedup = 1.1 },
        HeldOut = new HeldOutCheck { Metric = "relL2Error", Allowance = 0.02, Planned = 0.0193, CalibrationSamples = 4, Measured = 0.021, Samples = 4, HeldOut = true },
        InputsDescription = "4 seeded random sample(s), seed 0",
        Failures =
        [
            new ThresholdFailure { Threshold = "maxRelL2Error", Metric = "relL2Error", Output = "logits", Value = 0.021, Limit = 0.01 },
        ],
    };

    /// <summary>Decisions for the node tables and spectra.</summary>
    public static IReadOnlyList<FactorizationDecision> Decisions { get; } =
    [
            new FactorizationDecision { NodeName = "fc1", OpType = "Gemm", Method = "svd", Status = DecisionStatus.Factorized, Rank = 8, Ranks = [8], WeightShape = [64, 32], ParamsBefore = 2048, ParamsAfter = 768, FlopsBefore = 4096, FlopsAfter = 1536, WeightRelError = 0.05, SingularValues = [.. Enumerable.Range(0, 32).Select(i => 10 * Math.Exp(-i / 4.0))], Reason = "energy 99%" },
            new FactorizationDecision { NodeName = "conv<2>", OpType = "Conv", Method = "tucker2", Status = DecisionStatus.Factorized, Rank = 3, Ranks = [2, 3], WeightShape = [8, 4, 3, 3], SingularValues = [5, 3, 1, 0.5, 0.01, 0], ParamsBefore = 288, ParamsAfter = 120 },
            new FactorizationDecision { NodeName = "head", OpType = "MatMul", Status = DecisionStatus.Skipped, Reason = "rank above break-even", ParamsBefore = 100, ParamsAfter = 100 },
    ];
}
