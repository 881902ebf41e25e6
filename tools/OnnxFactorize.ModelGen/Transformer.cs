using System.Buffers.Binary;
using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.ModelGen;

/// <summary>A transformer-encoder-shaped benchmark model: <c>layers</c> blocks of self-attention (MatMul Q/K/V/O) and a
/// feed-forward pair (MatMul d×4d, 4d×d) with LayerNormalization, on a static [1, 16, d] input. Weights are a rank-8
/// signal plus small noise, so a rank-ratio 0.5 factorization keeps the outputs close. With external data the weights are
/// written to <c>&lt;out&gt;.data</c> row by row as they are generated: memory stays at a few rows whatever the size.</summary>
public static class Transformer
{
    /// <summary>Tokens per sample (static, so no dim has to be bound).</summary>
    public const int Sequence = 16;

    private const int SignalRank = 8;

    /// <summary>Writes the model to <paramref name="path"/>; returns the bytes written (model plus data file).</summary>
    public static long Write(string path, int layers, int dim, bool external)
    {
        var b = new GraphBuilder("transformer");
        b.Input("x", GraphBuilder.FloatType, 1L, (long)Sequence, (long)dim);
        var weights = new List<(TensorProto Tensor, int Rows, int Cols, ulong Seed)>();
        var seed = 1UL;

        string Weight(string name, int rows, int cols)
        {
            var tensor = new TensorProto { Name = name, DataType = GraphBuilder.FloatType };
            tensor.Dims.AddRange([rows, cols]);
            b.Graph.Initializer.Add(tensor);
            weights.Add((tensor, rows, cols, seed++));
            return name;
        }

        string Vector(string name, int length, float value)
        {
            b.Initializer(name, Enumerable.Repeat(value, length).ToArray(), [length]);
            return name;
        }

        string Linear(string prefix, string input, int rows, int cols)
        {
            var w = Weight($"{prefix}.weight", rows, cols);
            var bias = Vector($"{prefix}.bias", cols, 0.01f);
            b.NamedNode($"{prefix}/MatMul", "MatMul", [input, w], [$"{prefix}/mm"]);
            b.NamedNode($"{prefix}/Add", "Add", [$"{prefix}/mm", bias], [$"{prefix}/out"]);
            return $"{prefix}/out";
        }

        string Norm(string prefix, string input)
        {
            var gamma = Vector($"{prefix}.gamma", dim, 1f);
            var beta = Vector($"{prefix}.beta", dim, 0f);
            b.NamedNode(prefix, "LayerNormalization", [input, gamma, beta], [$"{prefix}/out"], GraphBuilder.Attr("axis", -1L));
            return $"{prefix}/out";
        }

        var x = "x";
        for (var l = 0; l < layers; l++)
        {
            var p = $"layer{l}";
            var q = Linear($"{p}.q", x, dim, dim);
            var k = Linear($"{p}.k", x, dim, dim);
            var v = Linear($"{p}.v", x, dim, dim);
            b.NamedNode($"{p}/kT", "Transpose", [k], [$"{p}/kT/out"], GraphBuilder.Ints("perm", 0, 2, 1));
            b.NamedNode($"{p}/scores", "MatMul", [q, $"{p}/kT/out"], [$"{p}/scores/out"]);
            var scale = $"{p}.scale";
            b.Initializer(scale, [1f / MathF.Sqrt(dim)], []);
            b.NamedNode($"{p}/scaled", "Mul", [$"{p}/scores/out", scale], [$"{p}/scaled/out"]);
            b.NamedNode($"{p}/softmax", "Softmax", [$"{p}/scaled/out"], [$"{p}/softmax/out"], GraphBuilder.Attr("axis", -1L));
            b.NamedNode($"{p}/context", "MatMul", [$"{p}/softmax/out", v], [$"{p}/context/out"]);
            var o = Linear($"{p}.o", $"{p}/context/out", dim, dim);
            b.NamedNode($"{p}/res1", "Add", [x, o], [$"{p}/res1/out"]);
            var n1 = Norm($"{p}.norm1", $"{p}/res1/out");
            var h = Linear($"{p}.ffn1", n1, dim, 4 * dim);
            b.NamedNode($"{p}/relu", "Relu", [h], [$"{p}/relu/out"]);
            var f = Linear($"{p}.ffn2", $"{p}/relu/out", 4 * dim, dim);
            b.NamedNode($"{p}/res2", "Add", [n1, f], [$"{p}/res2/out"]);
            x = Norm($"{p}.norm2", $"{p}/res2/out");
        }

        var head = Weight("head.weight", dim, dim);
        b.NamedNode("head/MatMul", "MatMul", [x, head], ["y"]);
        b.Output("y", GraphBuilder.FloatType, 1L, (long)Sequence, (long)dim);

        var model = new ModelProto { IrVersion = 8, ProducerName = "onnx-factorize-modelgen", Graph = b.Graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        var dataBytes = 0L;
        if (external)
        {
            var dataName = Path.GetFileName(path) + ".data";
            using var data = new FileStream(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, dataName), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            foreach (var (tensor, rows, cols, s) in weights)
            {
                var offset = (data.Position + 4095) / 4096 * 4096;
                data.SetLength(offset);
                data.Position = offset;
                WriteRows(data, rows, cols, s);
                var length = (long)rows * cols * 4;
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
            }

            dataBytes = data.Length;
        }
        else
        {
            foreach (var (tensor, rows, cols, s) in weights)
            {
                using var buffer = new MemoryStream(rows * cols * 4);
                WriteRows(buffer, rows, cols, s);
                tensor.RawData = ByteString.CopyFrom(buffer.GetBuffer(), 0, (int)buffer.Length);
            }
        }

        using (var output = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            model.WriteTo(output);
        }

        return new FileInfo(path).Length + dataBytes;
    }

    // W = (1/√(r·rows)) Σ_k u_k v_kᵀ (k < r) + noise: entries of variance ≈ 1/rows, so activations keep their scale.
    private static void WriteRows(Stream stream, int rows, int cols, ulong seed)
    {
        var random = new SeededRandom(seed);
        var u = new float[rows * SignalRank];
        var v = new float[SignalRank * cols];
        var scale = 1.0 / Math.Sqrt(SignalRank * (double)rows);
        for (var i = 0; i < u.Length; i++)
        {
            u[i] = (float)(random.NextNormal() * scale);
        }

        for (var i = 0; i < v.Length; i++)
        {
            v[i] = (float)random.NextNormal();
        }

        var noise = (float)(2e-3 / Math.Sqrt(rows));
        var row = new float[cols];
        var bytes = new byte[cols * 4];
        for (var r = 0; r < rows; r++)
        {
            Array.Clear(row);
            for (var k = 0; k < SignalRank; k++)
            {
                var a = u[(r * SignalRank) + k];
                var vk = v.AsSpan(k * cols, cols);
                for (var c = 0; c < cols; c++)
                {
                    row[c] += a * vk[c];
                }
            }

            for (var c = 0; c < cols; c++)
            {
                // Uniform noise in [-noise, noise): cheap, and enough to make the spectrum's tail non-zero.
                var n = (float)((random.NextUInt64() >> 40) * (1.0 / (1 << 24)) * 2.0 - 1.0) * noise;
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(c * 4), row[c] + n);
            }

            stream.Write(bytes);
        }
    }
}
