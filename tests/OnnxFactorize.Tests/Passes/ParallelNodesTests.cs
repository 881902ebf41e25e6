using System.Collections.Concurrent;
using System.Security.Cryptography;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx;
using OnnxFactorize.Passes;
using OnnxFactorize.Tests.Support;

namespace OnnxFactorize.Tests.Passes;

/// <summary>Nodes decided in parallel (<c>Factorizer.DecideAll</c>): the written model does not depend on the number
/// of workers, every node is reported, cancellation stops the run, and each decomposition is capped at cores ÷ workers.</summary>
public class ParallelNodesTests
{
    private static readonly (string Name, FactorizeOptions Options)[] OptionSets =
    [
        ("default", new FactorizeOptions()),
        ("ratio-0.25", new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.25) }),
        ("tucker2-ratio-0.5", new FactorizeOptions { RankPolicy = RankPolicy.Ratio(0.5), Methods = ["tucker2"] }),
    ];

    public static TheoryData<string> TestModels() =>
        [.. Directory.GetFiles(RepoPaths.TestModels, "*.onnx").Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal)];

    private static string Hash(OnnxModel model, FactorizeOptions options, int workers) =>
        Convert.ToHexStringLower(SHA256.HashData(Factorizer.Run(model, options with { MaxParallelNodes = workers }).Model.ToBytes()));

    [Theory]
    [MemberData(nameof(TestModels))]
    public void The_factorized_bytes_are_the_same_for_one_two_and_five_workers(string file)
    {
        var model = OnnxModel.Load(Path.Combine(RepoPaths.TestModels, file));
        foreach (var (name, options) in OptionSets)
        {
            var one = Hash(model, options, 1);
            Assert.True(one == Hash(model, options, 2), $"{file} {name}: 2 workers differ from 1");
            Assert.True(one == Hash(model, options, 5), $"{file} {name}: 5 workers differ from 1");
        }
    }

    [Fact]
    public void Every_candidate_is_reported_once_and_the_last_report_says_all_are_done()
    {
        var model = OnnxModel.Load(Path.Combine(RepoPaths.TestModels, "cnn.onnx"));
        var reports = new ConcurrentQueue<FactorizeProgress>();
        var result = Factorizer.Run(model, new FactorizeOptions { MaxParallelNodes = 2 }, new SyncProgress(reports.Enqueue));
        var all = reports.ToList();
        var total = result.Decisions.Count;
        Assert.Equal(result.Decisions.Select(d => d.NodeName).Order(StringComparer.Ordinal), all.Where(p => p.NodeName.Length > 0).Select(p => p.NodeName).Order(StringComparer.Ordinal));
        Assert.Equal((total, total, ""), (all[^1].Done, all[^1].Total, all[^1].NodeName));
        Assert.True(all[^1].WorkTotal > 0 && all[^1].WorkDone == all[^1].WorkTotal, "the last report says all the work is done");
        Assert.All(all, p => Assert.InRange(p.Done, 0, total));
    }

    [Fact]
    public void Cancelling_from_the_first_progress_report_stops_a_parallel_run_with_OperationCanceledException()
    {
        var model = OnnxModel.Load(Path.Combine(RepoPaths.TestModels, "cnn.onnx"));
        using var cts = new CancellationTokenSource();
        var decided = 0;
        var progress = new SyncProgress(p =>
        {
            if (p.NodeName.Length > 0 && Interlocked.Increment(ref decided) == 1)
            {
                cts.Cancel();
            }
        });
        Assert.ThrowsAny<OperationCanceledException>(() => Factorizer.Run(model, new FactorizeOptions { MaxParallelNodes = 2 }, progress, cts.Token));
    }

    [Fact]
    public void A_token_cancelled_inside_a_decomposition_stops_it()
    {
        // 256×256×3×3 Tucker-2: the HOOI sweeps check the token; a 50 ms cancel lands inside them.
        var rng = new Random(3);
        var w = new float[256 * 256 * 9];
        for (var i = 0; i < w.Length; i++)
        {
            w[i] = (float)(rng.NextDouble() - 0.5);
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                Tucker2.Decompose(w, 256, 256, 9, 128, 128, cancellationToken: cts.Token);
            }
        });
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void A_worker_count_other_than_minus_one_or_positive_is_refused_naming_the_value(int workers)
    {
        var e = Assert.Throws<OnnxFactorizeException>(() => new FactorizeOptions { MaxParallelNodes = workers }.Validate());
        Assert.Contains(workers.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_thread_cap_limits_the_degree_every_kernel_resolves_and_is_lifted_after_the_scope()
    {
        Assert.Equal(Environment.ProcessorCount, Parallelism.Resolve(-1));
        using (Parallelism.Limit(1))
        {
            Assert.Equal(1, Parallelism.Resolve(-1));
            Assert.Equal(1, Parallelism.Resolve(8));
        }

        Assert.Equal(8, Parallelism.Resolve(8));
    }

    private sealed class SyncProgress(Action<FactorizeProgress> report) : IProgress<FactorizeProgress>
    {
        public void Report(FactorizeProgress value) => report(value);
    }
}
