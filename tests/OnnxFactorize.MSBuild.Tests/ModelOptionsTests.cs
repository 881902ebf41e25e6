namespace OnnxFactorize.MSBuild.Tests;

public sealed class ModelOptionsTests
{
    private static readonly string ProjectDir = Path.Combine(Path.GetTempPath(), "my project");

    private static ModelOptions Parse(params (string Name, string Value)[] metadata)
    {
        var map = metadata.ToDictionary(m => m.Name, m => m.Value);
        return ModelOptions.Parse(name => map.GetValueOrDefault(name, ""), ProjectDir);
    }

    [Fact]
    public void No_metadata_validates_with_the_tool_defaults_and_a_report_for_the_build()
    {
        var args = Parse().ToArguments("m.onnx", "out.onnx", "r.json");
        Assert.Equal(["optimize", "m.onnx", "--output", "out.onnx", "--dim", "*=1", "--validate", "--report", "r.json"], args);
    }

    [Fact]
    public void Every_kind_of_metadata_becomes_its_flag()
    {
        var options = Parse(("Method", "svd"), ("Rank", "8"), ("Ops", "Gemm,MatMul"), ("AllowOverridableWeights", "True"),
            ("ExternalData", "false"), ("Dims", "batch=1; seq=128"), ("MaxRelError", "0.02"), ("Inputs", "data/in.npy"), ("Seed", "7"));
        var args = options.ToArguments("m.onnx", "o.onnx", "r.json");
        Assert.Equal(
            ["optimize", "m.onnx", "--output", "o.onnx", "--method", "svd", "--rank", "8", "--op", "Gemm,MatMul", "--allow-overridable-weights",
             "--seed", "7", "--dim", "batch=1", "--dim", "seq=128", "--inputs", Path.GetFullPath(Path.Combine(ProjectDir, "data/in.npy")),
             "--max-rel-error", "0.02", "--dim", "*=1", "--validate", "--report", "r.json"],
            args);
    }

    [Fact]
    public void A_user_report_path_replaces_the_build_report()
    {
        var args = Parse(("Report", "reports/m.json")).ToArguments("m.onnx", "o.onnx", "r.json").ToList();
        Assert.Equal(Path.GetFullPath(Path.Combine(ProjectDir, "reports/m.json")), args[args.IndexOf("--report") + 1]);
        Assert.Single(args, "--report");
    }

    [Fact]
    public void Validate_false_drops_validation()
    {
        Assert.DoesNotContain("--validate", Parse(("Validate", "false")).ToArguments("m.onnx", "o.onnx", "r.json"));
    }

    [Theory]
    [InlineData("Energy", "abc", "Energy 'abc' is not a number")]
    [InlineData("Energy", "0,99", "Energy '0,99' is not a number")]
    [InlineData("Rank", "2.5", "Rank '2.5' is not a whole number")]
    [InlineData("Validate", "yes", "Validate 'yes' is not true or false")]
    [InlineData("Dims", "batch", "'batch' is not name=value")]
    [InlineData("Dims", "batch=0", "'batch=0' is not name=value")]
    public void Bad_values_name_the_metadata(string name, string value, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse((name, value)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Two_rank_policies_conflict()
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(("Energy", "0.9"), ("Rank", "4")));
        Assert.Contains("Energy and Rank conflict", e.Message);
    }

    [Fact]
    public void DataAware_passes_its_flag_and_reads_Inputs_without_a_validation()
    {
        var args = Parse(("DataAware", "whiten"), ("Validate", "false"), ("Inputs", "calib")).ToArguments("m.onnx", "o.onnx", "r.json").ToList();
        Assert.Equal("whiten", args[args.IndexOf("--data-aware") + 1]);
        Assert.Equal(Path.GetFullPath(Path.Combine(ProjectDir, "calib")), args[args.IndexOf("--inputs") + 1]);
        Assert.DoesNotContain("--validate", args);
        Assert.Throws<ArgumentException>(() => Parse(("DataAware", "none"), ("Validate", "false"), ("Inputs", "calib")));
    }

    [Fact]
    public void A_budget_passes_its_flags_and_keeps_the_planner_cache_in_obj()
    {
        var args = Parse(("MaxError", "0.02"), ("Target", "latency"), ("Validate", "false"), ("Inputs", "calib"))
            .ToArguments("m.onnx", "o.onnx", "r.json", "/obj/onnxfactorize/cache").ToList();

        Assert.Equal("0.02", args[args.IndexOf("--max-error") + 1]);
        Assert.Equal("latency", args[args.IndexOf("--target") + 1]);
        Assert.Equal("/obj/onnxfactorize/cache", args[args.IndexOf("--cache-dir") + 1]);
        Assert.DoesNotContain("--validate", args);
    }

    [Theory]
    [InlineData("MaxError", "MinTop1Agreement", "MaxError and MinTop1Agreement conflict")]
    [InlineData("RankRatio", "MaxError", "RankRatio conflicts with MaxError")]
    public void Budget_conflicts_name_both_metadata(string first, string second, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse((first, "0.9"), (second, "0.02")));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Budget_settings_without_a_budget_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(("Target", "params")));
        Assert.Contains("Target only applies with a budget", e.Message);
    }

    [Fact]
    public void A_threshold_without_validation_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Parse(("Validate", "false"), ("MinCosine", "0.99")));
        Assert.Contains("MinCosine only applies when the model is validated", e.Message);
    }

    [Fact]
    public void Hash_is_stable_for_the_same_options_in_any_order_and_spacing()
    {
        var a = Parse(("Energy", "0.9"), ("Dims", "batch=1;seq=8"), ("Method", "auto"));
        var b = Parse(("Method", " auto "), ("Dims", "batch=1, seq=8"), ("Energy", "0.9"));
        Assert.Equal(a.Hash("o.onnx", "1.0"), b.Hash("o.onnx", "1.0"));
        Assert.Equal(16, a.Hash("o.onnx", "1.0").Length);
    }

    [Fact]
    public void Hash_changes_with_any_metadata_value_the_output_path_or_the_tool()
    {
        var baseline = Parse(("Energy", "0.9")).Hash("o.onnx", "1.0");
        Assert.NotEqual(baseline, Parse(("Energy", "0.95")).Hash("o.onnx", "1.0"));
        Assert.NotEqual(baseline, Parse(("Energy", "0.9"), ("MaxRelError", "0.01")).Hash("o.onnx", "1.0"));
        Assert.NotEqual(baseline, Parse(("Energy", "0.9"), ("Validate", "false")).Hash("o.onnx", "1.0"));
        Assert.NotEqual(baseline, Parse(("Energy", "0.9")).Hash("other.onnx", "1.0"));
        Assert.NotEqual(baseline, Parse(("Energy", "0.9")).Hash("o.onnx", "1.1"));
    }

    [Fact]
    public void Metadata_the_task_does_not_read_leaves_the_hash_alone()
    {
        Assert.Equal(Parse(("Energy", "0.9")).Hash("o.onnx", "1"), Parse(("Energy", "0.9"), ("CopyToOutputDirectory", "Always")).Hash("o.onnx", "1"));
    }
}
