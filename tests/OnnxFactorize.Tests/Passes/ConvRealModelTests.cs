using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Support;
using Xunit.Abstractions;

namespace OnnxFactorize.Tests.Passes;

public class ConvRealModelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("auto", 0.99)]
    [InlineData("tucker2", 0.99)]
    [InlineData("spatial-svd", 0.99)]
    [InlineData("depthwise", 0.99)]
    [InlineData("svd", 0.99)]
    [InlineData("auto", 0.9)]
    [InlineData("tucker2", 0.9)]
    [InlineData("spatial-svd", 0.9)]
    [InlineData("depthwise", 0.9)]
    [InlineData("svd", 0.9)]
    public void Ppocr_classifier_factorized_loads_in_onnx_runtime_and_reports_its_output_error(string method, double energy)
    {
        var model = OnnxModel.Load(RealModels.Path("ppocr-mobile-v2-cls"));
        var options = new FactorizeOptions { RankPolicy = RankPolicy.Energy(energy), Methods = [method], Ops = ["Conv"] };
        var result = Factorizer.Run(model, options);
        var conv = result.Decisions;
        var factorized = conv.Where(d => d.Status == DecisionStatus.Factorized).ToList();
        Assert.NotEmpty(conv);
        Assert.All(factorized, d => Assert.InRange(d.WeightRelError, 0, (method == "tucker2" ? Math.Sqrt(2) : 1) * Math.Sqrt(1 - energy) + 1e-6));

        // Input x [1, 3, 48, 192], uniform in [-1, 1), three seeds.
        var errors = Enumerable.Range(0, 3).Select(seed => ConvModels.RelativeL2(ConvModels.Run(model, seed), ConvModels.Run(result.Model, seed))).ToList();
        long paramsBefore = conv.Sum(d => d.ParamsBefore), paramsAfter = conv.Sum(d => d.ParamsAfter);
        long flopsBefore = conv.Sum(d => d.FlopsBefore), flopsAfter = conv.Sum(d => d.FlopsAfter);
        output.WriteLine($"ppocr-mobile-v2-cls {method} energy {energy}: {factorized.Count}/{conv.Count} convs factorized " +
            $"({string.Join(", ", factorized.GroupBy(d => d.Method).Select(g => $"{g.Key} {g.Count()}"))}); " +
            $"conv params {paramsBefore} → {paramsAfter}, conv FLOPs {flopsBefore} → {flopsAfter}; " +
            $"output rel L2 error {string.Join(" / ", errors.Select(e => e.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)))}");
        foreach (var d in factorized)
        {
            output.WriteLine($"  {d.NodeName} [{string.Join(",", d.WeightShape)}] {d.Status} {d.Method} r={d.Rank} err={d.WeightRelError:G3}: {d.Reason}");
        }

        Assert.All(errors, e => Assert.True(double.IsFinite(e) && e < 1.0, $"output error {e}"));
    }
}
