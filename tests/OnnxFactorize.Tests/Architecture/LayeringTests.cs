using OnnxFactorize.Optimization;

namespace OnnxFactorize.Tests.Architecture;

/// <summary>The engine is layered (docs/architecture.md): a namespace may use its own layer and those below it, never one
/// above. The root namespace (OnnxFactorizeException) is usable by all.</summary>
public class LayeringTests
{
    /// <summary>Engine namespaces from the bottom up; namespaces on one row are one layer and may use each other.</summary>
    internal static readonly string[][] Layers =
    [
        ["OnnxFactorize.Onnx", "OnnxFactorize.Onnx.Proto"],
        ["OnnxFactorize.Graph"],
        ["OnnxFactorize.Decomposition"],
        ["OnnxFactorize.Runtime"],
        ["OnnxFactorize.Passes"],
        ["OnnxFactorize.Validation"],
        ["OnnxFactorize.Planning", "OnnxFactorize.Analysis", "OnnxFactorize.Calibration"],
        ["OnnxFactorize.Reports"],
        ["OnnxFactorize.Optimization"],
    ];

    internal static IReadOnlyList<string> Violations(IEnumerable<(string From, string To, string FromType, string ToType)> edges)
    {
        int Layer(string ns) => Array.FindIndex(Layers, row => row.Contains(ns, StringComparer.Ordinal));
        var violations = new List<string>();
        foreach (var (from, to, fromType, toType) in edges)
        {
            if (to == "OnnxFactorize")
            {
                continue;
            }

            var (a, b) = (Layer(from), Layer(to));
            if (a < 0)
            {
                violations.Add($"{fromType}: namespace {from} has no layer; add it to docs/architecture.md and this test");
            }
            else if (b > a)
            {
                violations.Add($"{fromType} ({from}, layer {a}) uses {toType} ({to}, layer {b}) above it");
            }
        }

        return [.. violations.Distinct().Order(StringComparer.Ordinal)];
    }

    [Fact]
    public void No_engine_namespace_uses_one_above_it()
    {
        var edges = LayerScanner.Edges(typeof(Optimizer).Assembly, "OnnxFactorize").ToList();
        Assert.Contains(edges, e => e.From == "OnnxFactorize.Optimization" && e.To == "OnnxFactorize.Passes");
        Assert.NotEmpty(edges);
        var violations = Violations(edges);
        Assert.True(violations.Count == 0, string.Join("\n", violations));
    }

    [Fact]
    public void Decomposition_holds_no_onnx_or_onnx_runtime_type()
    {
        var assembly = typeof(Optimizer).Assembly;
        var runtime = LayerScanner.Edges(assembly, "OnnxFactorize.Decomposition", "Microsoft.ML.OnnxRuntime").Select(e => $"{e.FromType} uses {e.ToType}");
        var onnx = LayerScanner.Edges(assembly, "OnnxFactorize.Decomposition")
            .Where(e => e.To.StartsWith("OnnxFactorize.Onnx", StringComparison.Ordinal) || e.To == "OnnxFactorize.Graph")
            .Select(e => $"{e.FromType} uses {e.ToType}");
        var found = runtime.Concat(onnx).Distinct().ToList();
        Assert.True(found.Count == 0, string.Join("\n", found));

        // The GEMM backend is injected: the Runtime layer registers MLAS with the decompositions.
        Assert.NotNull(OnnxFactorize.Decomposition.MatrixOps.Backend);
    }

    [Fact]
    public void The_scanner_sees_a_backwards_use_hidden_in_a_method_body()
    {
        // The fixture below lives in a Graph namespace and calls into Passes only inside a method body.
        var edges = LayerScanner.Edges(typeof(LayeringTests).Assembly, "OnnxFactorize.Graph.LayeringFixture")
            .Select(e => (From: "OnnxFactorize.Graph", e.To, e.FromType, e.ToType))
            .ToList();
        var violations = Violations(edges);
        Assert.Contains(violations, v => v.Contains("OnnxFactorize.Passes", StringComparison.Ordinal));
    }
}
