using System.Diagnostics;
using System.Xml.Linq;

namespace OnnxFactorize.Testing.Tests;

/// <summary>The README's way to get OnnxFactorize.Testing works: pack OnnxFactorize and OnnxFactorize.Testing into a folder
/// feed, reference the Testing package from a fresh xunit project, and run the README example there. Offline: the only
/// package sources are that feed and the NuGet packages already in the local cache, restored into a private folder so no
/// stale OnnxFactorize package is picked up.</summary>
public sealed class PackageInstallTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "onnxf-pkg-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void Testing_package_installs_into_a_fresh_xunit_project_and_runs_the_readme_example()
    {
        var repo = RepoRoot();
        var feed = Path.Combine(_root, "feed");
        foreach (var project in new[] { "src/OnnxFactorize", "src/OnnxFactorize.Testing" })
        {
            var pack = Run("dotnet", ["pack", Path.Combine(repo, project), "-c", "Release", "-o", feed, "-nologo", "-nodeReuse:false"], repo);
            Assert.True(pack.ExitCode == 0, pack.Output);
        }

        // One version for every package, and the Testing package's dependency on OnnxFactorize is resolvable from the feed.
        var packages = Directory.GetFiles(feed, "*.nupkg").Select(Path.GetFileNameWithoutExtension).Order().ToList();
        Assert.Equal(["OnnxFactorize.0.1.0", "OnnxFactorize.Testing.0.1.0"], packages);

        var project_ = Path.Combine(_root, "consumer");
        Directory.CreateDirectory(project_);
        var versions = XDocument.Load(Path.Combine(repo, "Directory.Packages.props")).Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);
        File.WriteAllText(Path.Combine(project_, "Consumer.Tests.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <IsPackable>false</IsPackable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="OnnxFactorize.Testing" Version="0.1.0" />
                <PackageReference Include="Microsoft.NET.Test.Sdk" Version="{versions["Microsoft.NET.Test.Sdk"]}" />
                <PackageReference Include="xunit" Version="{versions["xunit"]}" />
                <PackageReference Include="xunit.runner.visualstudio" Version="{versions["xunit.runner.visualstudio"]}" />
              </ItemGroup>
              <ItemGroup>
                <Using Include="Xunit" />
              </ItemGroup>
            </Project>
            """);
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(project_, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="cache" value="{cache}" />
              </packageSources>
            </configuration>
            """);

        // The README example, exactly as it is kept working in this test project.
        foreach (var file in new[] { "ClassifierRegressionTests.cs", "ModelFiles.cs" })
        {
            File.Copy(Path.Combine(repo, "tests", "OnnxFactorize.Testing.Tests", file), Path.Combine(project_, file));
        }

        var test = Run("dotnet", ["test", project_, "-nologo", "-nodeReuse:false", $"-p:RestorePackagesPath={Path.Combine(_root, "packages")}"], project_);
        Assert.True(test.ExitCode == 0, test.Output);
        Assert.Contains("Passed!", test.Output, StringComparison.Ordinal);
        Assert.Contains("Total:     4", test.Output, StringComparison.Ordinal);
    }

    private static (int ExitCode, string Output) Run(string fileName, IEnumerable<string> args, string workingDirectory)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(15)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish in time");
        }

        process.WaitForExit();
        return (process.ExitCode, $"exit {process.ExitCode}\n{stdout.Result}\n{stderr.Result}");
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OnnxFactorize.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
