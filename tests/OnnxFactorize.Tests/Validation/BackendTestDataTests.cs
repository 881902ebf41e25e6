using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

/// <summary>Runs the ONNX backend node tests (Debian libonnx-testdata) for Gemm, MatMul and Conv in ORT and reproduces the stored outputs.</summary>
public class BackendTestDataTests
{
    private const string Root = "/usr/share/libonnx-testdata/data/node";

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        if (!Directory.Exists(Root))
        {
            // Without the package the theory has one case that fails loudly rather than silently running nothing.
            data.Add("<libonnx-testdata missing>");
            return data;
        }

        foreach (var dir in Directory.GetDirectories(Root).Select(Path.GetFileName).Order(StringComparer.Ordinal))
        {
            if (dir!.StartsWith("test_gemm_", StringComparison.Ordinal) || dir.StartsWith("test_matmul_", StringComparison.Ordinal)
                || (dir.StartsWith("test_", StringComparison.Ordinal) && dir.Contains("conv_", StringComparison.Ordinal) && !dir.Contains("convtranspose", StringComparison.Ordinal) && !dir.Contains("convinteger", StringComparison.Ordinal)))
            {
                data.Add(dir);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Stored_outputs_are_reproduced_in_onnx_runtime(string name)
    {
        Assert.True(Directory.Exists(Root), $"{Root} is missing: apt-get install -y libonnx-testdata");
        var dir = Path.Combine(Root, name);
        var model = Path.Combine(dir, "model.onnx");
        using var session = new InferenceSession(model);
        using var runOptions = new RunOptions();
        var inputs = ModelInput.FromSession(session);
        var samples = SampleLoader.Load(dir);
        Assert.NotEmpty(samples);
        foreach (var sample in samples)
        {
            var expected = sample.ExpectedOutputs;
            var actual = ModelValidator.Run(session, SampleLoader.Bind(sample, inputs), session.OutputNames, runOptions, model);
            Assert.Equal(expected.Count, actual.Count);
            for (var k = 0; k < expected.Count; k++)
            {
                Assert.Equal(expected[k].Shape, actual[k].Shape);
                var e = expected[k].ToDoubles();
                var a = actual[k].ToDoubles();
                for (var i = 0; i < e.Length; i++)
                {
                    // ONNX backend test default tolerance: rtol 1e-3, atol 1e-7; atol 1e-5 as float32 margin.
                    Assert.True(Math.Abs(a[i] - e[i]) <= 1e-5 + (1e-3 * Math.Abs(e[i])), $"{name} output {k} element {i}: {a[i]} vs {e[i]}");
                }
            }
        }

        // The backend models are parsed by our proto classes and their FLOPs are counted without error.
        var cost = ModelCost.Analyze(ModelProto.Parser.ParseFrom(File.ReadAllBytes(model)));
        Assert.True(cost.Flops > 0, $"{name}: no FLOPs counted");
    }
}
