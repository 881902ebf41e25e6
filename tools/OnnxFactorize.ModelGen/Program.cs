using Google.Protobuf;
using OnnxFactorize.ModelGen;

// Usage: OnnxFactorize.ModelGen [outputDir]   (default: testmodels/)
//        OnnxFactorize.ModelGen resnet18 <out.onnx> [random|decay]   (a ~45 MB benchmark model: write it outside git, e.g. out/ or /tmp)
//        OnnxFactorize.ModelGen transformer <out.onnx> <layers> <dim> [inline|external]   (benchmark transformer; see Transformer.cs)
if (args.Length > 0 && args[0] == "transformer")
{
    if (args.Length is < 4 or > 5 || !int.TryParse(args[2], out var layers) || layers < 1 || !int.TryParse(args[3], out var dim) || dim < 8
        || (args.Length == 5 && args[4] is not ("inline" or "external")))
    {
        Console.Error.WriteLine("usage: dotnet run --project tools/OnnxFactorize.ModelGen -- transformer <out.onnx> <layers> <dim> [inline|external]   (12 768: 86 M params, 343 MB; 17 2048: 3.4 GB, external only)");
        return 2;
    }

    var external = args.Length == 5 && args[4] == "external";
    if (!external && 12L * layers * dim * dim * 4 > int.MaxValue)
    {
        Console.Error.WriteLine("error: a model this large is over protobuf's 2 GiB limit inline; add 'external'.");
        return 2;
    }

    try
    {
        var total = Transformer.Write(args[1], layers, dim, external);
        Console.WriteLine($"{args[1]} ({total} bytes{(external ? ", with " + args[1] + ".data" : "")})");
        return 0;
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"error: cannot write '{args[1]}': {e.Message}");
        return 1;
    }
}

if (args.Length > 0 && args[0] == "resnet18")
{
    if (args.Length is < 2 or > 3 || (args.Length == 3 && args[2] is not ("random" or "decay")))
    {
        Console.Error.WriteLine("usage: dotnet run --project tools/OnnxFactorize.ModelGen -- resnet18 <out.onnx> [random|decay]   (default: decay)");
        return 2;
    }

    var weights = args.Length == 3 && args[2] == "random" ? ResNetWeights.Random : ResNetWeights.Decay;
    try
    {
        var bytes = ResNet18.Build(weights).ToByteArray();
        File.WriteAllBytes(args[1], bytes);
        Console.WriteLine($"{args[1]} ({bytes.Length} bytes)");
        return 0;
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"error: cannot write '{args[1]}': {e.Message}");
        return 1;
    }
}

if (args.Length > 1 || args is ["-h" or "--help"])
{
    Console.Error.WriteLine("usage: dotnet run --project tools/OnnxFactorize.ModelGen -- [outputDir]   (default: testmodels/)");
    return args.Length > 1 ? 2 : 0;
}

var outputDir = args.Length == 1 ? args[0] : "testmodels";
try
{
    Directory.CreateDirectory(outputDir);
    foreach (var (fileName, bytes) in TestModels.All())
    {
        File.WriteAllBytes(Path.Combine(outputDir, fileName), bytes);
        Console.WriteLine($"{Path.Combine(outputDir, fileName)} ({bytes.Length} bytes)");
    }

    return 0;
}
catch (IOException e)
{
    Console.Error.WriteLine($"error: cannot write models to '{outputDir}': {e.Message}");
    return 1;
}
catch (UnauthorizedAccessException e)
{
    Console.Error.WriteLine($"error: cannot write models to '{outputDir}': {e.Message}");
    return 1;
}
