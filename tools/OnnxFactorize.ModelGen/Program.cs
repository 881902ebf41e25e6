using OnnxFactorize.ModelGen;

// Usage: OnnxFactorize.ModelGen [outputDir]   (default: testmodels/)
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
