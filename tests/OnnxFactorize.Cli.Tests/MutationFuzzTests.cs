using System.Diagnostics;
using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;
using Xunit.Abstractions;

namespace OnnxFactorize.Cli.Tests;

/// <summary>Seeded mutation fuzzing of three small models (byte-level and protobuf-level mutations): every run of
/// <c>optimize</c> exits 0 or 2 (or 1 when --validate ran and a default threshold failed), a failure prints exactly one stderr line, and a failure writes nothing.</summary>
public sealed class MutationFuzzTests(ITestOutputHelper log) : IDisposable
{
    private const int MutationsPerModel = 350;
    private static readonly TimeSpan Budget = TimeSpan.FromMinutes(4);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Over_a_thousand_mutations_of_three_models_exit_0_or_2_with_one_line_and_no_files_on_failure()
    {
        var seeds = new (string Name, byte[] Bytes)[]
        {
            ("mlp", AdversarialModels.Mlp().ToByteArray()),
            ("overridable", File.ReadAllBytes(CliProcess.TestModel("overridable.onnx"))),
            ("if_subgraph", File.ReadAllBytes(CliProcess.TestModel("if_subgraph.onnx"))),
        };
        var input = _dir.File("in/model.onnx");
        var outFolder = _dir.File("out");
        Directory.CreateDirectory(Path.GetDirectoryName(input)!);
        Directory.CreateDirectory(outFolder);
        var output = Path.Combine(outFolder, "model.onnx");
        var random = new Random(20261201);
        var codes = new Dictionary<int, int>();
        var failures = new List<string>();
        var refusedExamples = new List<string>();
        var watch = Stopwatch.StartNew();
        var runs = 0;
        foreach (var (name, original) in seeds)
        {
            for (var i = 0; i < MutationsPerModel; i++)
            {
                Assert.True(watch.Elapsed < Budget, $"fuzzing exceeded its time bound after {runs} runs");
                var (mutated, how) = random.Next(2) == 0 ? MutateBytes(original, random) : MutateProto(original, random);
                File.WriteAllBytes(input, mutated);
                string[] args = random.Next(8) switch
                {
                    0 or 1 => ["optimize", input, "-o", output, "--rank", "2", "--method", "auto", "--external-data"],
                    2 => ["optimize", input, "-o", output, "--validate", "--runs", "1", "--dim", "batch=2", "--report", Path.Combine(outFolder, "r.json")],
                    3 => ["analyze", input, "--report", Path.Combine(outFolder, "a.json")],
                    _ => ["optimize", input, "-o", output, "--rank", (1 + random.Next(4)).ToString(System.Globalization.CultureInfo.InvariantCulture)],
                };
                var run = FileSafetyTests.InProcess(args);
                runs++;
                codes[run.ExitCode] = codes.GetValueOrDefault(run.ExitCode) + 1;
                var label = $"{name} #{i} ({how})";
                var left = Directory.EnumerateFileSystemEntries(outFolder).Select(f => Path.GetFileName(f)).ToList();
                // A mutated weight that still loads but computes something else may fail validation's default thresholds:
                // the documented exit 1 (a threshold failed), with the verdict on stdout.
                var thresholdFailed = run.ExitCode == 1 && args.Contains("--validate") && run.Stdout.Contains("FAIL", StringComparison.Ordinal);
                if (run.ExitCode is not (0 or 2) && !thresholdFailed)
                {
                    failures.Add($"{label}: exit {run.ExitCode}: {run.Stderr.Trim()}");
                }
                else if (run.ExitCode == 2 && (run.StderrLines.Length != 1 || left.Count > 0))
                {
                    failures.Add($"{label}: exit 2 with {run.StderrLines.Length} stderr line(s) and {left.Count} file(s) left: {run.Stderr.Trim()}");
                }
                else if (!File.ReadAllBytes(input).AsSpan().SequenceEqual(mutated))
                {
                    failures.Add($"{label}: the input was modified");
                }
                else if (run.ExitCode == 2 && refusedExamples.Count < 3)
                {
                    refusedExamples.Add(input + "|" + Convert.ToBase64String(mutated));
                }

                foreach (var f in Directory.EnumerateFileSystemEntries(outFolder))
                {
                    File.Delete(f);
                }
            }
        }

        log.WriteLine($"{runs} mutated runs in {watch.Elapsed.TotalSeconds:F1} s; exit codes: {string.Join(", ", codes.OrderBy(c => c.Key).Select(c => $"{c.Key}: {c.Value}"))}");
        Assert.True(runs >= 1000, $"only {runs} runs");
        Assert.True(failures.Count == 0, $"{failures.Count} of {runs} runs broke the contract:\n{string.Join("\n", failures.Take(20))}");
        Assert.True(codes.GetValueOrDefault(2) > 0 && codes.GetValueOrDefault(0) > 0, "the mutations should both break and keep models");

        // A few refused mutants again as processes: the exit code as the shell sees it and stderr including native output.
        foreach (var example in refusedExamples)
        {
            var bytes = Convert.FromBase64String(example.Split('|')[1]);
            File.WriteAllBytes(input, bytes);
            var run = CliProcess.Run("optimize", input, "-o", output, "--rank", "2");
            Assert.True(run.ExitCode == 2, run.ToString());
            Assert.Single(run.StderrLines);
            Assert.Empty(Directory.EnumerateFileSystemEntries(outFolder));
        }
    }

    private static (byte[] Bytes, string How) MutateBytes(byte[] original, Random random)
    {
        var bytes = original.ToList();
        var steps = 1 + random.Next(3);
        var how = new List<string>();
        for (var s = 0; s < steps && bytes.Count > 0; s++)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    how.Add($"flip bit at {at}");
                    break;
                case 1:
                    bytes[at] = (byte)new[] { 0x00, 0xFF, 0x7F, 0x80, 0x01, random.Next(256) }[random.Next(6)];
                    how.Add($"set byte {at}");
                    break;
                case 2:
                    bytes.RemoveRange(at, bytes.Count - at);
                    how.Add($"truncate at {at}");
                    break;
                case 3:
                    bytes.InsertRange(at, Enumerable.Range(0, 1 + random.Next(8)).Select(_ => (byte)random.Next(256)));
                    how.Add($"insert at {at}");
                    break;
                case 4:
                    bytes.RemoveRange(at, Math.Min(1 + random.Next(16), bytes.Count - at));
                    how.Add($"delete at {at}");
                    break;
                default:
                    var length = Math.Min(1 + random.Next(32), bytes.Count - at);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    how.Add($"duplicate {length} at {at}");
                    break;
            }
        }

        return ([.. bytes], string.Join(", ", how));
    }

    private static (byte[] Bytes, string How) MutateProto(byte[] original, Random random)
    {
        var model = ModelProto.Parser.ParseFrom(original);
        var graph = model.Graph;
        var names = graph.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(graph.Input.Select(i => i.Name)).Where(n => n.Length > 0).Distinct().ToList();
        long[] oddDims = [-1, 0, 1, 2, 3, 7, 1L << 31, long.MaxValue, -16];
        string how;
        switch (random.Next(10))
        {
            case 0 when graph.Initializer.Count > 0:
            {
                var t = graph.Initializer[random.Next(graph.Initializer.Count)];
                if (t.Dims.Count == 0)
                {
                    t.Dims.Add(0);
                }

                var axis = random.Next(t.Dims.Count);
                t.Dims[axis] = oddDims[random.Next(oddDims.Length)];
                how = $"dim {axis} of '{t.Name}' = {t.Dims[axis]}";
                break;
            }

            case 1 when graph.Initializer.Count > 0:
            {
                var t = graph.Initializer[random.Next(graph.Initializer.Count)];
                t.DataType = random.Next(24);
                how = $"type of '{t.Name}' = {t.DataType}";
                break;
            }

            case 2 when graph.Node.Count > 0:
            {
                var node = graph.Node[random.Next(graph.Node.Count)];
                if (node.Input.Count > 0)
                {
                    var slot = random.Next(node.Input.Count);
                    node.Input[slot] = random.Next(5) == 0 ? "" : names[random.Next(names.Count)];
                }

                how = $"rewire an input of '{node.Name}'";
                break;
            }

            case 3 when graph.Node.Count > 0:
            {
                var node = graph.Node[random.Next(graph.Node.Count)];
                if (node.Output.Count > 0)
                {
                    node.Output[0] = names[random.Next(names.Count)];
                }

                how = $"rename the output of '{node.Name}'";
                break;
            }

            case 4 when graph.Node.Count > 0:
            {
                var node = graph.Node[random.Next(graph.Node.Count)];
                node.OpType = new[] { "Gemm", "MatMul", "Conv", "Relu", "Identity", "If" }[random.Next(6)];
                how = $"op of '{node.Name}' = {node.OpType}";
                break;
            }

            case 5 when graph.Node.Count > 0:
            {
                var index = random.Next(graph.Node.Count);
                if (random.Next(2) == 0)
                {
                    graph.Node.RemoveAt(index);
                    how = $"remove node {index}";
                }
                else
                {
                    graph.Node.Insert(random.Next(graph.Node.Count + 1), graph.Node[index].Clone());
                    how = $"duplicate node {index}";
                }

                break;
            }

            case 6 when graph.Node.Count > 0:
            {
                var node = graph.Node[random.Next(graph.Node.Count)];
                var attribute = random.Next(6) switch
                {
                    0 => new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = random.Next(3) - 1 },
                    1 => new AttributeProto { Name = "alpha", Type = AttributeProto.Types.AttributeType.Float, F = new[] { float.NaN, float.PositiveInfinity, 0f, -1f }[random.Next(4)] },
                    2 => new AttributeProto { Name = "group", Type = AttributeProto.Types.AttributeType.Int, I = random.Next(3) - 1 },
                    3 => Ints("strides", 0, -1),
                    4 => Ints("pads", -1, 5, 1 << 20),
                    _ => Ints("kernel_shape", 0, 9),
                };
                node.Attribute.Add(attribute);
                how = $"attribute {attribute.Name} on '{node.Name}'";
                break;
            }

            case 7 when graph.Input.Count > 0:
            {
                var input = graph.Input[random.Next(graph.Input.Count)];
                if (input.Type?.TensorType?.Shape is { Dim.Count: > 0 } shape)
                {
                    var axis = random.Next(shape.Dim.Count);
                    shape.Dim[axis] = new TensorShapeProto.Types.Dimension { DimValue = oddDims[random.Next(oddDims.Length)] };
                }

                how = $"declared shape of input '{input.Name}'";
                break;
            }

            case 8:
                model.OpsetImport.Clear();
                model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = new[] { 1L, 6, 9, 11, 13, 100 }[random.Next(6)] });
                how = $"opset {model.OpsetImport[0].Version}";
                break;
            default:
            {
                if (graph.Initializer.Count == 0)
                {
                    how = "none";
                    break;
                }

                var t = graph.Initializer[random.Next(graph.Initializer.Count)];
                var raw = t.RawData.ToByteArray();
                t.RawData = ByteString.CopyFrom(raw.AsSpan(0, raw.Length == 0 ? 0 : random.Next(raw.Length)));
                how = $"truncate the data of '{t.Name}'";
                break;
            }
        }

        return (model.ToByteArray(), how);
    }

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
}
