using Google.Protobuf;
using OnnxFactorize.ModelGen;

// Usage: OnnxFactorize.ModelGen [outputDir]   (default: testmodels/)
//        OnnxFactorize.ModelGen resnet18 <out.onnx> [random|decay]   (a ~45 MB benchmark model: write it outside git, e.g. out/ or /tmp)
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
