using System.Diagnostics;
using System.Security.Cryptography;
using OnnxFactorize.Onnx;

namespace OnnxFactorize.Cli.Tests;

/// <summary>The adversarial review's file cases: nothing the tool writes may be something it reads, outputs never share a
/// data file, a failed run leaves the folder as it was, and no input (FIFO, device, bad graph, huge dims) hangs or exits 3.</summary>
public sealed class FileSafetyTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Runs the command line in this process (exit code and our own stderr lines; ORT's native stderr is covered by process tests).</summary>
    internal static CliRun InProcess(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = CliApp.Run(args, stdout, stderr, plain: true, CancellationToken.None);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void A_report_path_equal_to_the_input_is_refused_and_the_input_survives()
    {
        var model = AdversarialModels.Write(AdversarialModels.Mlp(), _dir.File("m.onnx"));
        var before = Hash(model);
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("out.onnx"), "--validate", "--report", model), "same file as the input model");
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("out.onnx"), "--validate", "--html", _dir.File("sub/../m.onnx")), "same file as the input model");
        AssertRefused(InProcess("compare", model, model, "--report", model), "same file as the model");
        Assert.Equal(before, Hash(model));
        Assert.False(File.Exists(_dir.File("out.onnx")));
    }

    [Fact]
    public void A_report_path_equal_to_the_output_is_refused()
    {
        var model = AdversarialModels.Write(AdversarialModels.Mlp(), _dir.File("m.onnx"));
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("out.onnx"), "--validate", "--html", _dir.File("out.onnx")), "same file as the output");
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("out.onnx"), "--validate", "--report", _dir.File("r.json"), "--html", _dir.File("r.json")), "same file as the --report");
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("out.onnx"), "--validate", "--report", _dir.File("out.onnx.data")), "output's data file");
        Assert.DoesNotContain(Directory.EnumerateFiles(_dir.Path), f => Path.GetFileName(f) != "m.onnx");
    }

    [Fact]
    public void A_link_in_an_ancestor_folder_does_not_hide_that_the_output_is_the_input()
    {
        var model = AdversarialModels.Write(AdversarialModels.Mlp(), _dir.File("a/sub/m.onnx"));
        Directory.CreateSymbolicLink(_dir.File("L"), _dir.File("a"));
        var before = Hash(model);
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("L/sub/m.onnx")), "same file as the input model");
        AssertRefused(InProcess("optimize", _dir.File("L/sub/m.onnx"), "-o", model), "same file as the input model");
        AssertRefused(InProcess("analyze", model, "--report", _dir.File("L/sub/../sub/m.onnx")), "same file as the input model");
        Assert.Equal(before, Hash(model));
    }

    [Fact]
    public void Writing_next_to_an_external_data_input_never_touches_its_data_file()
    {
        var folder = _dir.File("ext");
        Directory.CreateDirectory(folder);
        var model = AdversarialModels.Write(AdversarialModels.External(folder, "external_data.onnx.data"), Path.Combine(folder, "m.onnx"));
        var data = Path.Combine(folder, "external_data.onnx.data");
        var before = Hash(data);

        // Nothing selected: the model is written unchanged, its weights still external, now in out.onnx.data.
        var run = InProcess("optimize", model, "-o", Path.Combine(folder, "out.onnx"), "--op", "MatMul");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(before, Hash(data));
        Assert.True(File.Exists(Path.Combine(folder, "out.onnx.data")), "the output's data file is named after the output");
        Assert.Equal(0, InProcess("compare", model, model, "--runs", "1").ExitCode);

        // The output may not be the input's data file, however reached.
        Directory.CreateSymbolicLink(_dir.File("link"), folder);
        AssertRefused(InProcess("optimize", model, "-o", data), "same file as the external data");
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("link/external_data.onnx.data")), "same file as the external data");
        Assert.Equal(before, Hash(data));
    }

    [Fact]
    public void Two_outputs_of_one_input_in_one_folder_keep_their_own_weights()
    {
        var folder = _dir.File("two");
        Directory.CreateDirectory(folder);
        var model = AdversarialModels.Write(AdversarialModels.External(folder, "weights.bin", width: 64), Path.Combine(folder, "m.onnx"));
        var out1 = Path.Combine(folder, "out1.onnx");
        var out2 = Path.Combine(folder, "out2.onnx");

        // Factors of rank 8 and 12 (64×8 floats = 2 KiB) are large enough to go to the data file.
        Assert.Equal(0, InProcess("optimize", model, "-o", out1, "--rank", "8", "--external-data").ExitCode);
        var first = (Hash(out1), Hash(out1 + ".data"));
        Assert.Equal(0, InProcess("optimize", model, "-o", out2, "--rank", "12", "--external-data").ExitCode);
        Assert.Equal(first, (Hash(out1), Hash(out1 + ".data")));
        Assert.NotEqual(Hash(out1 + ".data"), Hash(out2 + ".data"));
        // Both models still load and run (the original's data file is intact); accuracy is not what this checks.
        Assert.Equal(0, InProcess("compare", model, out1, "--runs", "1", "--no-default-thresholds").ExitCode);
        Assert.DoesNotContain(Directory.EnumerateFiles(folder), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void Temp_files_of_a_killed_run_are_swept_by_the_next_write_into_the_folder()
    {
        var folder = _dir.File("stale");
        Directory.CreateDirectory(folder);
        var deadPid = DeadProcessId();
        var stale = Path.Combine(folder, $".ofz-{deadPid}-0123456789ab.tmp");
        File.WriteAllBytes(stale, new byte[4096]);
        var model = AdversarialModels.Write(AdversarialModels.Mlp(), _dir.File("m.onnx"));
        Assert.Equal(0, InProcess("optimize", model, "-o", Path.Combine(folder, "out.onnx")).ExitCode);
        Assert.False(File.Exists(stale), "a temp file of a dead process is removed");
        Assert.Equal(["out.onnx"], Directory.EnumerateFileSystemEntries(folder).Select(f => Path.GetFileName(f)).ToArray());
    }

    [Fact]
    public void A_240_character_output_name_is_written()
    {
        var model = AdversarialModels.Write(AdversarialModels.Mlp(), _dir.File("m.onnx"));
        var name = new string('n', 235) + ".onnx";
        var run = InProcess("optimize", model, "-o", _dir.File(name), "--external-data");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(_dir.File(name)));
    }

    [Fact]
    public void A_fifo_as_model_or_external_data_is_refused_without_opening_it()
    {
        var fifo = _dir.File("pipe.onnx");
        MakeFifo(fifo);
        var watch = Stopwatch.StartNew();
        AssertRefused(InProcess("optimize", fifo, "-o", _dir.File("out.onnx")), "FIFO");
        AssertRefused(InProcess("analyze", fifo), "FIFO");
        AssertRefused(InProcess("compare", fifo, fifo), "FIFO");

        var folder = _dir.File("ext");
        Directory.CreateDirectory(folder);
        var model = AdversarialModels.Write(AdversarialModels.External(folder, "w.data"), Path.Combine(folder, "m.onnx"));
        File.Delete(Path.Combine(folder, "w.data"));
        MakeFifo(Path.Combine(folder, "w.data"));
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("out.onnx")), "FIFO");
        var mlp = AdversarialModels.Write(AdversarialModels.Mlp(), _dir.File("mlp.onnx"));
        AssertRefused(InProcess("optimize", mlp, "-o", _dir.File("out.onnx"), "--validate", "--inputs", fifo), "FIFO");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
    }

    [Fact]
    public void A_device_as_model_or_output_is_refused()
    {
        AssertRefused(InProcess("optimize", "/dev/zero", "-o", _dir.File("out.onnx")), "character device");
        var model = AdversarialModels.Write(AdversarialModels.Mlp(), _dir.File("m.onnx"));
        AssertRefused(InProcess("optimize", model, "-o", "/dev/null"), "character device");
    }

    [Fact]
    public void A_model_file_over_the_protobuf_limit_is_refused_before_reading()
    {
        var big = _dir.File("big.onnx");
        using (var stream = File.Create(big))
        {
            // Sparse: no disk blocks are written.
            stream.SetLength(OnnxModel.ProtobufLimit + 4096L);
        }

        var watch = Stopwatch.StartNew();
        AssertRefused(InProcess("optimize", big, "-o", _dir.File("out.onnx")), "2 GiB limit");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    public static TheoryData<string> InvalidNames => [.. AdversarialModels.Invalid.Keys];

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void An_invalid_graph_is_refused_with_the_rule_it_breaks(string name)
    {
        var (build, expected) = AdversarialModels.Invalid[name];
        var model = AdversarialModels.Write(build(), _dir.File(name + ".onnx"));
        foreach (var args in new[]
        {
            new[] { "optimize", model, "-o", _dir.File("out.onnx"), "--rank", "2" },
            ["analyze", model],
            ["compare", model, model],
        })
        {
            var run = InProcess(args);
            AssertRefused(run, expected);
            Assert.Contains(name + ".onnx", run.Stderr);
        }
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(0, 4)]
    public void An_empty_gemm_weight_is_skipped_with_a_reason(long k, long n)
    {
        var model = AdversarialModels.Write(AdversarialModels.EmptyGemm(k, n), _dir.File("empty.onnx"));
        var run = InProcess("optimize", model, "-o", _dir.File("out.onnx"), "--rank", "2");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("is empty", run.Stdout);
        Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(_dir.File("out.onnx")));
        Assert.Equal(0, InProcess("analyze", model).ExitCode);
    }

    [Fact]
    public void A_generated_input_over_the_memory_limit_is_refused_with_its_size()
    {
        var huge = AdversarialModels.Write(AdversarialModels.WithInputDims(65536, 65536), _dir.File("huge.onnx"));
        AssertRefused(InProcess("compare", huge, huge), "16 GiB, over the 1 GiB limit");

        var model = AdversarialModels.Write(AdversarialModels.WithInputDims(0, 16), _dir.File("batch.onnx"));
        AssertRefused(InProcess("optimize", model, "-o", _dir.File("out.onnx"), "--validate", "--dim", "batch=100000000000"), "GiB, over the 1 GiB limit");
        AssertRefused(InProcess("compare", model, model, "--dim", "batch=9223372036854775807"), "GiB, over the 1 GiB limit");
    }

    [Fact]
    public void A_catastrophic_only_pattern_finishes_at_once()
    {
        var model = AdversarialModels.Mlp();
        model.Graph.Node[0].Name = new string('a', 40) + "!";
        var path = AdversarialModels.Write(model, _dir.File("aaa.onnx"));
        var watch = Stopwatch.StartNew();
        var run = InProcess("optimize", path, "-o", _dir.File("out.onnx"), "--only", "^(a+)+$");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }

    [Fact]
    public void A_pattern_that_needs_backtracking_and_runs_too_long_is_a_usage_error()
    {
        var model = AdversarialModels.Mlp();
        model.Graph.Node[0].Name = new string('a', 40) + "!";
        var path = AdversarialModels.Write(model, _dir.File("aaa.onnx"));

        // A backreference forces the backtracking engine, which is bounded by the match timeout.
        var run = InProcess("optimize", path, "-o", _dir.File("out.onnx"), "--only", @"^((a+)+)\1$");
        AssertRefused(run, "took longer than");
    }

    [Fact]
    public void Process_exit_codes_stderr_lines_and_files_for_bad_inputs()
    {
        // Process runs: the exit code as the shell sees it, and stderr including anything native code prints.
        var invalid = AdversarialModels.Write(AdversarialModels.Invalid["dup_outputs"].Build(), _dir.File("dup.onnx"));
        var run = CliProcess.Run("optimize", invalid, "-o", _dir.File("out.onnx"), "--rank", "2");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Single(run.StderrLines);

        var fifo = _dir.File("p.onnx");
        MakeFifo(fifo);
        run = CliProcess.RunExecutable("dotnet", [CliProcess.ToolDll, "optimize", fifo, "-o", _dir.File("out.onnx")], timeout: TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Single(run.StderrLines);
        Assert.Equal(["dup.onnx", "p.onnx"], Directory.EnumerateFileSystemEntries(_dir.Path).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Onnx_runtime_log_lines_do_not_reach_stderr()
    {
        // An unused initializer makes ONNX Runtime's optimizer log a warning while it loads the session.
        var model = AdversarialModels.Mlp();
        model.Graph.Initializer.Add(TensorCodec.Create("unused", [4], new float[4]));
        var path = AdversarialModels.Write(model, _dir.File("unused.onnx"));
        var run = CliProcess.Run("compare", path, path, "--runs", "1");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);
        run = CliProcess.Run("compare", path, path, "--runs", "1", "--verbose");
        Assert.DoesNotContain("\u001b[", run.Stderr);
    }

    [Fact]
    public async Task Sigterm_ends_a_running_command_promptly_with_exit_130()
    {
        var model = AdversarialModels.Write(AdversarialModels.Mlp(), _dir.File("m.onnx"));
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { CliProcess.ToolDll, "compare", model, model, "--runs", "100000000" })
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.False(process.HasExited, process.HasExited ? await stderr : "still running");
        var watch = Stopwatch.StartNew();
        Assert.Equal(0, Kill(process.Id, "TERM"));
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(20)), "SIGTERM did not end the process");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.Equal(130, process.ExitCode);
        await stdout;
    }

    internal static void AssertRefused(CliRun run, string expected)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        var line = Assert.Single(run.StderrLines);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", run.Stderr);
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static void MakeFifo(string path)
    {
        var run = CliProcess.RunExecutable("mkfifo", [path]);
        Assert.True(run.ExitCode == 0, run.ToString());
    }

    private static int Kill(int pid, string signal) => CliProcess.RunExecutable("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ExitCode;

    private static int DeadProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }
}
