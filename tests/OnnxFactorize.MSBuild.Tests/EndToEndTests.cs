using System.IO.Compression;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxFactorize.MSBuild.Tests;

/// <summary>A real `dotnet build` of a sample project that references the packed OnnxFactorize.MSBuild package.</summary>
public sealed class EndToEndTests(PackageFixture sample) : IClassFixture<PackageFixture>
{
    private const string Ran = "onnx-factorize: factorizing Models/mlp_gemm.onnx";
    private const string Skipped = "Skipping target \"OnnxFactorizeModels\" because all output files are up-to-date";

    [Fact]
    public void The_package_carries_the_tool_and_onnx_runtime_for_each_desktop_platform()
    {
        using var zip = ZipFile.OpenRead(sample.Package);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        Assert.Contains("build/OnnxFactorize.MSBuild.targets", entries);
        Assert.Contains("buildTransitive/OnnxFactorize.MSBuild.targets", entries);
        Assert.Contains("tasks/net10.0/OnnxFactorize.MSBuild.dll", entries);
        Assert.Contains("tools/cli/onnx-factorize.dll", entries);
        Assert.Contains("tools/cli/runtimes/linux-x64/native/libonnxruntime.so", entries);
        Assert.Contains("tools/cli/runtimes/win-x64/native/onnxruntime.dll", entries);
        Assert.Contains("tools/cli/runtimes/osx-arm64/native/libonnxruntime.dylib", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal));
    }

    [Fact]
    public void First_build_puts_a_smaller_factorized_model_in_bin_that_runs_in_onnx_runtime()
    {
        Assert.True(sample.FirstBuild.ExitCode == 0, sample.FirstBuild.ToString());
        Assert.Contains(Ran, sample.FirstBuild.Output);
        Assert.Contains("validation passed", sample.FirstBuild.Output);
        Assert.Contains("warning OFZ2001", sample.FirstBuild.Output);
        Assert.True(new FileInfo(sample.FirstBuildModel).Length < new FileInfo(sample.SourceModel).Length);

        using var original = new InferenceSession(sample.SourceModel);
        using var factorized = new InferenceSession(sample.FirstBuildModel);
        var inputName = factorized.InputMetadata.Keys.Single();
        var width = factorized.InputMetadata[inputName].Dimensions[^1];
        var data = Enumerable.Range(0, width).Select(i => MathF.Sin(i * 0.37f)).ToArray();
        float[] RunOn(InferenceSession session)
        {
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<float>(data, [1, width]))]);
            return results.First().AsEnumerable<float>().ToArray();
        }

        var a = RunOn(original);
        var b = RunOn(factorized);
        Assert.Equal(a.Length, b.Length);
        var error = Math.Sqrt(a.Zip(b, (x, y) => (x - y) * (x - y)).Sum()) / Math.Sqrt(a.Sum(x => x * x));
        Assert.True(error < 0.05, $"relative L2 error {error}");
    }

    [Fact]
    public void A_second_build_with_nothing_changed_skips_the_factorization()
    {
        sample.Build();
        var second = sample.Build();
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains(Skipped, second.Output);
        Assert.DoesNotContain(Ran, second.Output);
    }

    [Fact]
    public void Touching_the_model_or_changing_a_metadata_value_runs_it_again()
    {
        sample.Build();
        File.SetLastWriteTimeUtc(sample.SourceModel, DateTime.UtcNow);
        var touched = sample.Build();
        Assert.True(touched.ExitCode == 0, touched.ToString());
        Assert.Contains(Ran, touched.Output);

        var changed = sample.Build(false, "TestEnergy=0.95");
        Assert.True(changed.ExitCode == 0, changed.ToString());
        Assert.Contains(Ran, changed.Output);
        Assert.Contains("(energy 0.95)", changed.Output);
    }

    [Fact]
    public void A_failing_threshold_fails_the_build_with_OFZ1001_at_the_model()
    {
        var run = sample.Build(false, "TestMaxRelError=0.000001");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains($"{sample.SourceModel} : error OFZ1001: Models/mlp_gemm.onnx: validation failed: output 'Y': relL2Error", run.Output);
        Assert.Contains("MaxRelError=\"0.000001\"", run.Output);
    }

    [Fact]
    public void An_error_budget_with_an_energy_cap_plans_the_ranks_and_keeps_its_cache_in_obj()
    {
        var run = sample.Build(false, "TestEnergy=0.99", "TestMaxError=0.02");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("relative L2 error ≤ 0.02, measured", run.Output);
        Assert.Contains("validation passed", run.Output);
        Assert.Contains(Directory.EnumerateFiles(Path.Combine(sample.ProjectDir, "obj"), "*", SearchOption.AllDirectories), f => f.Contains($"onnxfactorize{Path.DirectorySeparatorChar}cache", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(sample.ProjectDir, ".cache")));
    }

    [Fact]
    public void A_policy_that_factorizes_nothing_warns_OFZ2002_with_the_advice_in_metadata_terms()
    {
        var run = sample.Build(false, "TestEnergy=0.99999");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"{sample.SourceModel} : warning OFZ2002: Models/mlp_gemm.onnx: nothing was factorized at energy 0.99999", run.Output);
        Assert.Contains("RankRatio=\"0.5\" would factorize 5 node(s)", run.Output);
        Assert.Contains("Let accuracy decide: set MaxError=\"0.02\" on the item", run.Output);
        Assert.Contains("The model is copied unchanged.", run.Output);
        Assert.DoesNotContain("--rank-ratio 0.5", run.Output.Split('\n').Where(l => l.Contains("OFZ2002", StringComparison.Ordinal)).First());
    }

    [Fact]
    public void A_policy_that_factorizes_little_warns_OFZ2004_with_the_advice()
    {
        var run = sample.Build(false, "TestEnergy=0.9997");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"{sample.SourceModel} : warning OFZ2004: Models/mlp_gemm.onnx: little was factorized at energy 0.9997", run.Output);
        Assert.Contains("RankRatio=\"0.25\" would factorize", run.Output);
        Assert.DoesNotContain("OFZ2002", run.Output);
    }

    [Fact]
    public void A_missing_model_is_an_OFZ1002_error_naming_it()
    {
        var run = sample.Build(false, "TestModel=Models/missing.onnx");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("error OFZ1002: model 'Models/missing.onnx' was not found", run.Output);
    }

    [Fact]
    public void OnnxFactorizeEnabled_false_copies_the_original_model_without_running_the_tool()
    {
        var run = sample.Build(false, "OnnxFactorizeEnabled=false");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain(Ran, run.Output);
        Assert.Contains("onnx-factorize: off (OnnxFactorizeEnabled=false", run.Output);
        Assert.Equal(File.ReadAllBytes(sample.SourceModel), File.ReadAllBytes(sample.OutputModel));
    }
}
