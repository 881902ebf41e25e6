namespace OnnxFactorize.Tests.Support;

/// <summary>Locates the repository root (the folder holding OnnxFactorize.sln) from the test assembly's folder.</summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    public static string TestModels => Path.Combine(Root, "testmodels");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OnnxFactorize.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No OnnxFactorize.sln above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}
