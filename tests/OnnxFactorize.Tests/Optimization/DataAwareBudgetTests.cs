using OnnxFactorize.Optimization;
using OnnxFactorize.Passes;
using OnnxFactorize.Planning;
using OnnxFactorize.Tests.Support;
using OnnxFactorize.Tests.Validation;
using OnnxFactorize.Validation;
using TensorData = OnnxFactorize.Validation.TensorData;
using Xunit.Abstractions;

namespace OnnxFactorize.Tests.Optimization;

/// <summary>The budget planner with data-aware rungs (<c>--data-aware whiten</c> with a budget): every rung is the whitened
/// SVD on the calibration inputs' Gram, measured in ONNX Runtime exactly as emitted, and the chosen plan holds its budget
/// on held-out data from the same distribution.</summary>
public sealed class DataAwareBudgetTests(ITestOutputHelper output) : IDisposable
{
    private const double Budget = 0.1;
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private OptimizeReport Plan(string name, DataAwareMode mode, string calibration) => Optimizer.Run(new OptimizeRequest
    {
        ModelPath = _dir.File("model.onnx"),
        OutputPath = _dir.File(name),
        Factorize = new FactorizeOptions { DataAware = mode },
        CalibrationInputs = mode == DataAwareMode.None ? null : calibration,
        Budget = new BudgetOptions { MaxError = Budget, Inputs = new InputOptions { Path = calibration }, LatencyGuard = false },
    });

    [Fact]
    public void Whitened_rungs_hold_the_budget_on_held_out_data_and_cut_at_least_the_flops_plain_rungs_cut()
    {
        SequentialDataAwareTests.Mlp().Save(_dir.File("model.onnx"));
        var calibration = _dir.File("calibration");
        Directory.CreateDirectory(calibration);
        TensorFiles.WriteNpy(Path.Combine(calibration, "x.npy"), TensorData.Create("x", [4096, SequentialDataAwareTests.Width], SequentialDataAwareTests.Inputs(4096, seed: 11)));

        var whitened = Plan("whiten.onnx", DataAwareMode.Whiten, calibration);
        var plain = Plan("plain.onnx", DataAwareMode.None, calibration);

        var factorized = whitened.Factorization.Decisions.Where(d => d.Status == DecisionStatus.Factorized).ToList();
        Assert.NotEmpty(factorized);
        Assert.All(factorized, d => Assert.Equal("whiten", d.Mode));
        Assert.True(whitened.Plan!.FinalError <= Budget, $"calibration error {whitened.Plan.FinalError}");

        const int n = 2000;
        var x = SequentialDataAwareTests.Inputs(n, seed: 12);
        var reference = SequentialDataAwareTests.Run(_dir.File("model.onnx"), x, n);
        var heldOut = OrtRunner.RelativeL2(reference, SequentialDataAwareTests.Run(_dir.File("whiten.onnx"), x, n));
        static long Cut(OptimizeReport r) => r.Factorization.Decisions.Where(d => d.Status == DecisionStatus.Factorized).Sum(d => d.FlopsBefore - d.FlopsAfter);
        output.WriteLine($"whitened rungs: calibration {whitened.Plan.FinalError:G4}, held-out {heldOut:G4}, FLOPs cut {Cut(whitened)}; plain rungs: FLOPs cut {Cut(plain)}");
        Assert.True(heldOut <= Budget, $"held-out rel. L2 {heldOut} over the budget {Budget}");
        Assert.True(Cut(whitened) >= Cut(plain), $"FLOPs cut: whitened rungs {Cut(whitened)}, plain rungs {Cut(plain)}");
    }
}
