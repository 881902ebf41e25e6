namespace OnnxFactorize.Tests.Onnx;

/// <summary>Debian's libonnx-testdata: the ONNX backend test models with their input/output tensors.</summary>
internal static class OnnxTestDataFolder
{
    public const string Root = "/usr/share/libonnx-testdata/data";

    public static IReadOnlyList<string> AllModels()
    {
        if (!Directory.Exists(Root))
        {
            throw new InvalidOperationException($"{Root} is missing: install Debian's libonnx-testdata (apt-get install libonnx-testdata; .ci/run does).");
        }

        return Directory.EnumerateFiles(Root, "model.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
    }
}
