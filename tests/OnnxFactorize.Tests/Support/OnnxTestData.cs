namespace OnnxFactorize.Tests.Support;

/// <summary>The ONNX backend-test models shipped by Debian's libonnx-testdata package. A missing folder throws so
/// that tests over these models never pass by enumerating nothing.</summary>
internal static class OnnxTestData
{
    public const string Root = "/usr/share/libonnx-testdata/data";

    /// <summary>Suites searched, each as Root/suite/&lt;case&gt;/model.onnx.</summary>
    public static readonly IReadOnlyList<string> Suites = ["node", "pytorch-converted", "pytorch-operator", "simple"];

    /// <summary>Every model.onnx of the suites, sorted by path.</summary>
    public static IReadOnlyList<string> Models(params string[] suites)
    {
        if (!Directory.Exists(Root))
        {
            throw new DirectoryNotFoundException($"{Root} is missing: install the Debian package libonnx-testdata (apt-get install libonnx-testdata)");
        }

        var models = new List<string>();
        foreach (var suite in suites.Length == 0 ? Suites : suites)
        {
            var dir = System.IO.Path.Combine(Root, suite);
            if (!Directory.Exists(dir))
            {
                throw new DirectoryNotFoundException($"{dir} is missing: reinstall libonnx-testdata");
            }

            models.AddRange(Directory.EnumerateDirectories(dir)
                .Select(caseDir => System.IO.Path.Combine(caseDir, "model.onnx"))
                .Where(File.Exists));
        }

        if (models.Count == 0)
        {
            throw new InvalidOperationException($"No model.onnx under {Root}: reinstall libonnx-testdata");
        }

        models.Sort(StringComparer.Ordinal);
        return models;
    }

    /// <summary>Suite-relative case name of a model path, e.g. "node/test_gemm_default_no_bias".</summary>
    public static string CaseName(string modelPath) =>
        System.IO.Path.GetRelativePath(Root, System.IO.Path.GetDirectoryName(modelPath)!);
}
