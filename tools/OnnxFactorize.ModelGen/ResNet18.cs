using OnnxFactorize.Decomposition;
using OnnxFactorize.Onnx.Proto;
using static OnnxFactorize.ModelGen.GraphBuilder;

namespace OnnxFactorize.ModelGen;

/// <summary>Weights of a generated ResNet-18.</summary>
public enum ResNetWeights
{
    /// <summary>He-normal Gaussian kernels (flat spectra).</summary>
    Random,

    /// <summary>Kernels with decaying mode spectra, like trained weights: A·diag(σ)·X with Gaussian A, X and σ_j = (1+j)^-0.75
    /// over the output channels, rescaled to the He-normal Frobenius norm.</summary>
    Decay,
}

/// <summary>A ResNet-18 with torchvision's topology (He et al. 2016; torchvision.models.resnet18) and batch norm folded
/// into the convolutions: 7×7/2 stem conv, 3×3/2 max pool, four stages of two BasicBlocks (3×3 convs with bias, ReLU,
/// residual Add, 1×1/2 projection on the first block of stages 2–4), global average pool, 1000-class Gemm.
/// Input [1,3,224,224], about 11.7 M parameters (~45 MB): generated on demand, never committed.</summary>
public static class ResNet18
{
    /// <summary>Builds the model from a seed.</summary>
    public static ModelProto Build(ResNetWeights weights, ulong seed = 18)
    {
        var random = new SeededRandom(seed);
        var g = new GraphBuilder("resnet18");
        g.Input("input", FloatType, 1L, 3L, 224L, 224L);
        var layer = 0;

        string Conv(string input, int outChannels, int inChannels, int kernel, int stride, bool relu)
        {
            layer++;
            var name = $"conv{layer}";
            var pad = (long)(kernel / 2);
            g.Initializer($"{name}.W", Kernel(random, weights, outChannels, inChannels * kernel * kernel), [outChannels, inChannels, kernel, kernel]);
            g.Initializer($"{name}.B", LowRankWeights.Vector(random, outChannels, std: 0.01), [outChannels]);
            g.NamedNode(name, "Conv", [input, $"{name}.W", $"{name}.B"], [$"{name}.out"],
                Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride), Ints("pads", pad, pad, pad, pad));
            if (!relu)
            {
                return $"{name}.out";
            }

            g.Node("Relu", [$"{name}.out"], [$"{name}.relu"]);
            return $"{name}.relu";
        }

        var x = Conv("input", 64, 3, 7, 2, relu: true);
        g.Node("MaxPool", [x], ["pool.out"], Ints("kernel_shape", 3L, 3L), Ints("strides", 2L, 2L), Ints("pads", 1L, 1L, 1L, 1L));
        x = "pool.out";
        var channels = 64;
        var block = 0;
        foreach (var width in new[] { 64, 128, 256, 512 })
        {
            for (var b = 0; b < 2; b++)
            {
                block++;
                var stride = b == 0 && width != 64 ? 2 : 1;
                var h = Conv(x, width, channels, 3, stride, relu: true);
                h = Conv(h, width, width, 3, 1, relu: false);
                var shortcut = stride != 1 || channels != width ? Conv(x, width, channels, 1, stride, relu: false) : x;
                g.Node("Add", [h, shortcut], [$"block{block}.add"]);
                g.Node("Relu", [$"block{block}.add"], [$"block{block}.out"]);
                x = $"block{block}.out";
                channels = width;
            }
        }

        g.Node("GlobalAveragePool", [x], ["gap.out"]);
        g.Node("Flatten", ["gap.out"], ["flat.out"], Attr("axis", 1L));
        g.Initializer("fc.W", Kernel(random, weights, 1000, 512), [1000, 512]);
        g.Initializer("fc.B", LowRankWeights.Vector(random, 1000, std: 0.01), [1000]);
        g.Node("Gemm", ["flat.out", "fc.W", "fc.B"], ["logits"], Attr("transB", 1L));
        g.Output("logits", FloatType, 1L, 1000L);
        var model = new ModelProto
        {
            IrVersion = TestModels.IrVersion,
            ProducerName = TestModels.Producer,
            ProducerVersion = "1",
            DocString = $"ResNet-18 topology (torchvision), batch norm folded, {weights.ToString().ToLowerInvariant()} weights, seed {seed}.",
            Graph = g.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = TestModels.Opset });
        return model;
    }

    // rows×fanIn row-major kernel with the He-normal Frobenius norm (std √(2/fanIn) per entry).
    private static float[] Kernel(SeededRandom random, ResNetWeights weights, int rows, int fanIn)
    {
        var std = Math.Sqrt(2.0 / fanIn);
        var w = Gaussian(random, rows * fanIn);
        if (weights == ResNetWeights.Decay)
        {
            var a = Gaussian(random, rows * rows);
            for (var i = 0; i < rows; i++)
            {
                for (var j = 0; j < rows; j++)
                {
                    a[i * rows + j] *= (float)Math.Pow(1.0 + j, -0.75);
                }
            }

            var mixed = new float[rows * fanIn];
            MatrixOps.Gemm(a, rows, rows, w, fanIn, mixed);
            w = mixed;
        }

        var sum = 0.0;
        foreach (var v in w)
        {
            sum += (double)v * v;
        }

        var scale = (float)(std * Math.Sqrt(w.Length / sum));
        for (var k = 0; k < w.Length; k++)
        {
            w[k] *= scale;
        }

        return w;
    }

    private static float[] Gaussian(SeededRandom random, int count)
    {
        var values = new float[count];
        for (var k = 0; k < count; k++)
        {
            values[k] = (float)random.NextNormal();
        }

        return values;
    }
}
