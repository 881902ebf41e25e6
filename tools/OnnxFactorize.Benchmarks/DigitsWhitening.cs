using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Calibration;
using OnnxFactorize.Decomposition;
using OnnxFactorize.Graph;
using OnnxFactorize.Onnx;
using OnnxFactorize.Validation;
using OnnxTensors = OnnxFactorize.Onnx.TensorCodec;

namespace OnnxFactorize.Benchmarks;

/// <summary>`digits-whitening [folder] [ratio]`: on the digits models of tools/train-digits, per-node output error on the
/// held-out evaluation half of plain SVD vs whitened SVD (Gram from the calibration half) at the same rank, and the
/// end-to-end accuracy with every candidate replaced by its rank-k approximation.</summary>
internal static class DigitsWhitening
{
    private sealed record Candidate(Node Node, string Input, float[] Weight, int Outputs, int Inputs, WeightLayout Layout, ConvPatchGeometry? Conv, long[] Dims);

    public static int Run(string[] args)
    {
        var folder = args.Length > 0 ? args[0] : Path.Combine(".cache", "digits");
        var ratio = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 0.25;
        var whitening = new WhiteningOptions { RelativeRidge = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 0 };
        if (!File.Exists(Path.Combine(folder, "mlp.onnx")))
        {
            Console.Error.WriteLine($"{folder}/mlp.onnx not found: run tools/train-digits/run.sh first.");
            return 2;
        }

        foreach (var name in new[] { "mlp", "mlp-unfolded", "cnn", "cnn-unfolded" })
        {
            var graph = ModelGraph.Import(OnnxModel.Load(Path.Combine(folder, name + ".onnx")));
            var ops = graph.Main.Nodes.GroupBy(n => n.OpType).Select(g => $"{g.Key}×{g.Count()}");
            var constantWeights = graph.Main.Nodes.Count(n => n.OpType is "Gemm" or "MatMul" or "Conv" && n.Inputs[1] is { IsConstant: true });
            Console.WriteLine($"{name}.onnx: {string.Join(" ", ops)}; {graph.Main.Initializers.Count} initializers; weights as initializers on {constantWeights} Gemm/MatMul/Conv nodes");
        }

        foreach (var model in new[] { "mlp", "cnn" })
        {
            Measure(folder, model, ratio, whitening);
        }

        return 0;
    }

    private static void Measure(string folder, string name, double ratio, WhiteningOptions whitening)
    {
        var model = OnnxModel.Load(Path.Combine(folder, name + ".onnx"));
        var graph = ModelGraph.Import(model);
        var candidates = Candidates(graph);
        var requests = candidates.Select(c => c.Conv is null ? ActivationRequest.LastAxis(c.Input) : ActivationRequest.ConvPatches(c.Input, c.Conv)).DistinctBy(r => r.Value).ToList();
        var options = new CalibrationOptions { BatchSize = 128 };
        var started = DateTime.UtcNow;
        var calibration = CalibrationCollector.Collect(model, requests, CalibrationInputs.Stream(Path.Combine(folder, name, "calibration")), options);
        var evaluation = CalibrationCollector.Collect(model, requests, CalibrationInputs.Stream(Path.Combine(folder, name, "evaluation")), options);
        Console.WriteLine();
        Console.WriteLine($"{name}: statistics of {requests.Count} activations on both halves in {(DateTime.UtcNow - started).TotalSeconds:F1} s; rank = ceil({ratio}·min(out,in)); whitening ridge {whitening.RelativeRidge}·mean diag");
        Console.WriteLine("node                 shape       k  | rel. output error on evaluation half        | whitened predicted");
        Console.WriteLine("                                    | plain    whitened  plain+bc  white+bc  wc+bc  | (calibration)");

        var replacements = new Dictionary<string, Dictionary<Node, (float[] W, double[]? Delta)>>();
        foreach (var method in new[] { "plain", "whitened", "plain+bc", "whitened+bc", "centered+bc" })
        {
            replacements[method] = [];
        }

        foreach (var c in candidates)
        {
            var k = Math.Max(1, (int)Math.Ceiling(ratio * Math.Min(c.Outputs, c.Inputs) - 1e-9));
            var w = c.Weight;
            var cal = calibration[c.Input].Inputs;
            var eval = evaluation[c.Input].Inputs;
            var (pl, pr) = TruncatedSvd.ComputeExact(w, c.Outputs, c.Inputs).BalancedFactors(k);
            var plain = new float[w.Length];
            MatrixOps.Gemm(pl, c.Outputs, k, pr, c.Inputs, plain);
            var white = WhitenedSvd.Compute(w, c.Outputs, c.Inputs, WeightLayout.OutByIn, InputWhitening.FromGram(cal.Gram(), c.Inputs, whitening), k);
            var whitened = white.Reconstruct(k);

            // Whitening with the centered Gram: with the bias re-fitted to the mean, the exact minimizer of the output error.
            var centered = WhitenedSvd.Compute(w, c.Outputs, c.Inputs, WeightLayout.OutByIn, InputWhitening.FromGram(cal.CenteredGram(), c.Inputs, whitening), k).Reconstruct(k);
            var mean = cal.Mean();
            var plainDelta = BiasCorrection.Delta(w, plain, c.Outputs, c.Inputs, WeightLayout.OutByIn, mean);
            var whiteDelta = BiasCorrection.Delta(w, whitened, c.Outputs, c.Inputs, WeightLayout.OutByIn, mean);
            var centeredDelta = BiasCorrection.Delta(w, centered, c.Outputs, c.Inputs, WeightLayout.OutByIn, mean);

            var norm = Math.Sqrt(Quadratic(w, new float[w.Length], null, eval));
            double Rel(float[] approx, double[]? delta) => Math.Sqrt(Quadratic(w, approx, delta, eval)) / norm;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Label(c.Node),-20} {c.Outputs + "×" + c.Inputs,-10} {k,3}  | {Rel(plain, null),-8:F4} {Rel(whitened, null),-9:F4} {Rel(plain, plainDelta),-9:F4} {Rel(whitened, whiteDelta),-9:F4} {Rel(centered, centeredDelta),-6:F4} | {white.PredictedRelativeOutputError(k):F4} ({white.Whitening.Method}, lifted {white.Whitening.LiftedDirections}) ‖Ŵ‖/‖W‖ plain {Norm(plain) / Norm(w):F2} whitened {Norm(whitened) / Norm(w):F2}"));
            replacements["plain"][c.Node] = (plain, null);
            replacements["whitened"][c.Node] = (whitened, null);
            replacements["plain+bc"][c.Node] = (plain, plainDelta);
            replacements["whitened+bc"][c.Node] = (whitened, whiteDelta);
            replacements["centered+bc"][c.Node] = (centered, centeredDelta);
        }

        var labels = SampleLoader.ReadLabels(Path.Combine(folder, name, "evaluation", "labels.npy"));
        var input = TensorFiles.Read(Path.Combine(folder, name, "evaluation", "input.npy"));
        Console.Write($"{name} evaluation accuracy, every candidate at its rank: original {Accuracy(model.ToBytes(), input, labels):P1}");
        foreach (var (method, map) in replacements)
        {
            Console.Write($", {method} {Accuracy(Replaced(model, map), input, labels):P1}");
        }

        Console.WriteLine();
        if (candidates.All(c => c.Node.OpType == "Gemm"))
        {
            var calibrationInput = TensorFiles.Read(Path.Combine(folder, name, "calibration", "input.npy"));
            foreach (var white in new[] { false, true })
            {
                var sequential = Sequential(model, candidates, calibration, calibrationInput, ratio, whitening, white);
                Console.WriteLine($"  {(white ? "whitened" : "plain")} first factor + sequential least-squares last factor and bias (calibration half): {Accuracy(Replaced(model, sequential), input, labels):P1}");
            }
        }

        foreach (var c in candidates)
        {
            Console.Write($"  only {Label(c.Node)} replaced:");
            foreach (var (method, map) in replacements)
            {
                Console.Write($" {method} {Accuracy(Replaced(model, new() { [c.Node] = map[c.Node] }), input, labels):P1}");
            }

            Console.WriteLine();
        }
    }

    // Layer by layer in graph order: the first factor R (k×in) from the plain or whitened SVD, then the last factor and the
    // bias refit by least squares so that B·[R x̃; 1] ≈ W x + b, where x̃ is the node's input in the model compressed so far
    // and x its input in the original model (LeastSquaresFactor on streamed cross-Grams).
    private static Dictionary<Node, (float[] W, double[]? Delta)> Sequential(OnnxModel model, List<Candidate> candidates,
        IReadOnlyDictionary<string, ActivationStatistics> calibration, Validation.TensorData input, double ratio, WhiteningOptions whitening, bool white)
    {
        var done = new Dictionary<Node, (float[] W, double[]? Delta)>();
        var original = Activations(model.ToBytes(), candidates.Select(c => c.Input), input);
        foreach (var c in candidates)
        {
            var k = Math.Max(1, (int)Math.Ceiling(ratio * Math.Min(c.Outputs, c.Inputs) - 1e-9));
            float[] right;
            if (white)
            {
                var result = WhitenedSvd.Compute(c.Weight, c.Outputs, c.Inputs, WeightLayout.OutByIn, InputWhitening.FromGram(calibration[c.Input].Inputs.Gram(), c.Inputs, whitening), k);
                right = result.Factors(k).Right;
            }
            else
            {
                right = TruncatedSvd.ComputeExact(c.Weight, c.Outputs, c.Inputs).BalancedFactors(k).Right;
            }

            var compressed = Activations(Replaced(model, done), [c.Input], input)[c.Input];
            var x = original[c.Input];
            var rows = x.Length / c.Inputs;
            var bias = c.Node.Inputs.Count > 2 && c.Node.Inputs[2] is { IsConstant: true } bv ? bv.Graph.Model.ReadFloats(bv.Initializer!) : new float[c.Outputs];

            // z = [R x̃; 1] (k+1), y = W x + b (out), one row per calibration sample.
            var z = new float[rows * (k + 1)];
            var y = new float[rows * c.Outputs];
            var projected = new float[rows * k];
            MatrixOps.Gemm(compressed, rows, c.Inputs, right, k, projected, transA: false, transB: true);
            MatrixOps.Gemm(x, rows, c.Inputs, c.Weight, c.Outputs, y, transA: false, transB: true);
            for (var t = 0; t < rows; t++)
            {
                projected.AsSpan(t * k, k).CopyTo(z.AsSpan(t * (k + 1), k));
                z[t * (k + 1) + k] = 1;
                for (var o = 0; o < c.Outputs; o++)
                {
                    y[t * c.Outputs + o] += bias[o];
                }
            }

            var stats = new CrossGramAccumulator(k + 1, c.Outputs);
            stats.AddRows(z, y);
            var b = LeastSquaresFactor.Solve(stats.ZZ(), stats.ZY(), k + 1, c.Outputs, WeightLayout.OutByIn);
            var left = new float[c.Outputs * k];
            var delta = new double[c.Outputs];
            for (var o = 0; o < c.Outputs; o++)
            {
                b.AsSpan(o * (k + 1), k).CopyTo(left.AsSpan(o * k, k));
                delta[o] = b[o * (k + 1) + k] - bias[o];
            }

            var w = new float[c.Outputs * c.Inputs];
            MatrixOps.Gemm(left, c.Outputs, k, right, c.Inputs, w);
            done[c.Node] = (w, delta);
        }

        return done;
    }

    // The named activations of the model on one input, as flat float arrays (rows × last axis).
    private static Dictionary<string, float[]> Activations(byte[] model, IEnumerable<string> names, Validation.TensorData input)
    {
        var graph = ModelGraph.Import(OnnxModel.Load(new MemoryStream(model)));
        var list = names.Distinct().ToList();
        foreach (var n in list)
        {
            if (graph.Main.Find(n) is { IsGraphInput: false } v)
            {
                graph.Main.AddOutput(v);
            }
        }

        using var session = new InferenceSession(graph.Export().ToBytes());
        using var value = OrtValue.CreateTensorValueFromMemory((float[])input.Data, [.. input.Shape]);
        var outputs = list.Where(n => n != session.InputNames[0]).ToList();
        var map = new Dictionary<string, float[]>();
        if (outputs.Count > 0)
        {
            using var results = session.Run(new RunOptions(), [session.InputNames[0]], [value], outputs);
            for (var i = 0; i < outputs.Count; i++)
            {
                map[outputs[i]] = results[i].GetTensorDataAsSpan<float>().ToArray();
            }
        }

        if (list.Contains(session.InputNames[0]))
        {
            map[session.InputNames[0]] = (float[])input.Data;
        }

        return map;
    }

    private static double Norm(float[] a) => Math.Sqrt(a.Sum(v => (double)v * v));

    // Σ_t ‖(W − Ŵ)x_t − δ‖² from the statistics of x: tr(D G Dᵀ) − 2 δᵀ D Σx + N‖δ‖², D = W − Ŵ (out×in).
    private static double Quadratic(float[] w, float[] approx, double[]? delta, GramAccumulator stats)
    {
        var n = stats.Dimension;
        var outputs = w.Length / n;
        var g = stats.Gram();
        var s = stats.Sum();
        var total = 0.0;
        var d = new double[n];
        var dg = new double[n];
        for (var o = 0; o < outputs; o++)
        {
            for (var j = 0; j < n; j++)
            {
                d[j] = (double)w[o * n + j] - approx[o * n + j];
            }

            Array.Clear(dg);
            for (var i = 0; i < n; i++)
            {
                if (d[i] != 0)
                {
                    for (var j = 0; j < n; j++)
                    {
                        dg[j] += d[i] * g[i * n + j];
                    }
                }
            }

            var dSum = 0.0;
            for (var j = 0; j < n; j++)
            {
                total += dg[j] * d[j];
                dSum += d[j] * s[j];
            }

            if (delta is not null)
            {
                total += -2 * delta[o] * dSum + stats.Count * delta[o] * delta[o];
            }
        }

        return total;
    }

    private static List<Candidate> Candidates(ModelGraph graph)
    {
        var list = new List<Candidate>();
        foreach (var node in graph.Main.Nodes)
        {
            if (node.Inputs.Count < 2 || node.Inputs[0] is not { } x || node.Inputs[1] is not { IsConstant: true } wv)
            {
                continue;
            }

            var dims = wv.Initializer!.Dims.ToArray();
            var weight = graph.ReadFloats(wv.Initializer);
            switch (node.OpType)
            {
                case "Gemm" when node.GetInt("transA", 0) == 0:
                    var transB = node.GetInt("transB", 0) == 1;
                    var (outputs, inputs) = transB ? ((int)dims[0], (int)dims[1]) : ((int)dims[1], (int)dims[0]);
                    list.Add(new Candidate(node, x.Name, transB ? weight : Transposed(weight, inputs, outputs), outputs, inputs, WeightLayout.OutByIn, null, dims));
                    break;
                case "MatMul" when dims.Length == 2:
                    list.Add(new Candidate(node, x.Name, Transposed(weight, (int)dims[0], (int)dims[1]), (int)dims[1], (int)dims[0], WeightLayout.OutByIn, null, dims));
                    break;
                case "Conv" when dims.Length == 4 && node.GetInt("group", 1) == 1 && node.GetString("auto_pad", "NOTSET") == "NOTSET":
                    var pads = node.GetInts("pads") ?? [0, 0, 0, 0];
                    var strides = node.GetInts("strides") ?? [1, 1];
                    var dilations = node.GetInts("dilations") ?? [1, 1];
                    var geometry = new ConvPatchGeometry
                    {
                        KernelHeight = (int)dims[2], KernelWidth = (int)dims[3], StrideHeight = (int)strides[0], StrideWidth = (int)strides[1],
                        DilationHeight = (int)dilations[0], DilationWidth = (int)dilations[1],
                        PadTop = (int)pads[0], PadLeft = (int)pads[1], PadBottom = (int)pads[2], PadRight = (int)pads[3],
                    };
                    list.Add(new Candidate(node, x.Name, weight, (int)dims[0], (int)(dims[1] * dims[2] * dims[3]), WeightLayout.OutByIn, geometry, dims));
                    break;
            }
        }

        return list;
    }

    private static float[] Transposed(float[] a, int rows, int cols)
    {
        var t = new float[a.Length];
        MatrixOps.Transpose(a, rows, cols, t);
        return t;
    }

    private static string Label(Node node) => string.IsNullOrEmpty(node.Name) ? node.OpType : node.Name;

    // The model with each candidate's weight replaced by its approximation (in the node's own layout) and, when given, the
    // bias delta added, edited through the graph layer.
    private static byte[] Replaced(OnnxModel model, Dictionary<Node, (float[] W, double[]? Delta)> map)
    {
        var graph = ModelGraph.Import(model);
        var byName = map.ToDictionary(kv => Label(kv.Key), kv => kv.Value);
        foreach (var node in graph.Main.Nodes.ToList())
        {
            if (!byName.TryGetValue(Label(node), out var r))
            {
                continue;
            }

            var wv = node.Inputs[1]!;
            var dims = wv.Initializer!.Dims.ToArray();
            var transposed = node.OpType == "MatMul" || (node.OpType == "Gemm" && node.GetInt("transB", 0) == 0);
            var values = transposed ? Transposed(r.W, (int)dims[1], (int)dims[0]) : r.W;
            node.SetInput(1, graph.Main.AddInitializer(OnnxTensors.Create(wv.Name + "_lowrank", dims, values)));
            if (r.Delta is not null)
            {
                var outputs = r.Delta.Length;
                var bias = node.Inputs.Count > 2 && node.Inputs[2] is { IsConstant: true } bv ? graph.ReadFloats(bv.Initializer!) : new float[outputs];
                var corrected = bias.Select((b, i) => (float)(b + r.Delta[i])).ToArray();
                var biasValue = graph.Main.AddInitializer(OnnxTensors.Create(Label(node) + "_bias_corrected", [outputs], corrected));
                if (node.Inputs.Count > 2)
                {
                    node.SetInput(2, biasValue);
                }
                else
                {
                    throw new InvalidOperationException($"{Label(node)} has no bias input to correct");
                }
            }
        }

        graph.CleanupAndSort();
        return graph.Export().ToBytes();
    }

    private static double Accuracy(byte[] model, Validation.TensorData input, long[] labels)
    {
        using var session = new InferenceSession(model);
        using var value = OrtValue.CreateTensorValueFromMemory((float[])input.Data, [.. input.Shape]);
        using var results = session.Run(new RunOptions(), [session.InputNames[0]], [value], [session.OutputNames[0]]);
        var logits = results[0].GetTensorDataAsSpan<float>();
        var classes = logits.Length / labels.Length;
        var correct = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            var row = logits.Slice(i * classes, classes);
            var best = 0;
            for (var c = 1; c < classes; c++)
            {
                if (row[c] > row[best])
                {
                    best = c;
                }
            }

            correct += best == labels[i] ? 1 : 0;
        }

        return (double)correct / labels.Length;
    }
}
