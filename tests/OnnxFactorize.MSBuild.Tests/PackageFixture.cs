using System.Diagnostics;
using System.Text;

namespace OnnxFactorize.MSBuild.Tests;

/// <summary>Result of one process run.</summary>
public sealed record ProcessRun(int ExitCode, string Output)
{
    public override string ToString() => $"exit {ExitCode}\n{Output}";
}

/// <summary>Packs OnnxFactorize.MSBuild once into a folder feed and creates one sample project (in a folder with a space)
/// that references it, restored into a private NuGet packages folder so no stale cached package is used.</summary>
public sealed class PackageFixture : IDisposable
{
    private const string Configuration =
#if DEBUG
        "Debug";
#else
        "Release";
#endif

    public PackageFixture()
    {
        Directory.CreateDirectory(Root);
        var feed = Path.Combine(Root, "feed");
        var pack = Run("dotnet", ["pack", Path.Combine(RepoRoot, "src", "OnnxFactorize.MSBuild"), "-c", Configuration, "-o", feed, "-nologo", "-nodeReuse:false", "-p:UseSharedCompilation=false"], RepoRoot);
        if (pack.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet pack failed: {pack}");
        }

        Package = Directory.GetFiles(feed, "OnnxFactorize.MSBuild.*.nupkg").Single();
        var version = Path.GetFileNameWithoutExtension(Package)["OnnxFactorize.MSBuild.".Length..];
        Directory.CreateDirectory(Path.Combine(ProjectDir, "Models"));
        File.Copy(Path.Combine(RepoRoot, "testmodels", "mlp_gemm.onnx"), SourceModel);
        File.WriteAllText(Path.Combine(ProjectDir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(ProjectDir, "Sample.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <TestModel Condition="'$(TestModel)' == ''">Models/mlp_gemm.onnx</TestModel>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="OnnxFactorize.MSBuild" Version="{version}" />
                <None Include="Models/*.onnx" CopyToOutputDirectory="PreserveNewest" />
                <OnnxFactorize Include="$(TestModel)" Dims="batch=1" Energy="$(TestEnergy)" MaxRelError="$(TestMaxRelError)" MaxError="$(TestMaxError)" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(ProjectDir, "Program.cs"), "System.Console.WriteLine(\"sample\");\n");

        FirstBuild = Build(restore: true);
        if (File.Exists(OutputModel))
        {
            File.Copy(OutputModel, FirstBuildModel);
        }
    }

    public static string RepoRoot { get; } = FindRepoRoot();

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "onnx-factorize-msbuild-" + Guid.NewGuid().ToString("N")[..12]);

    public string ProjectDir => Path.Combine(Root, "sample app");

    public string SourceModel => Path.Combine(ProjectDir, "Models", "mlp_gemm.onnx");

    public string OutputModel => Path.Combine(ProjectDir, "bin", "Debug", "net10.0", "Models", "mlp_gemm.onnx");

    /// <summary>The factorized model as the first build left it in bin (later tests change bin).</summary>
    public string FirstBuildModel => Path.Combine(Root, "first-build.onnx");

    public string Package { get; }

    public ProcessRun FirstBuild { get; }

    /// <summary>Builds the sample at normal verbosity (so MSBuild says when it skips a target), with -p:Name=Value properties.</summary>
    public ProcessRun Build(bool restore = false, params string[] properties)
    {
        string[] args = ["build", ProjectDir, "-nologo", "-v:n", "-tl:off", "-nodeReuse:false", "-p:UseSharedCompilation=false", .. properties.Select(p => "-p:" + p)];
        return Run("dotnet", restore ? args : [.. args, "--no-restore"], ProjectDir);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private ProcessRun Run(string fileName, IEnumerable<string> args, string workingDirectory)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["NUGET_PACKAGES"] = Path.Combine(Root, "packages");
        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish in 5 minutes");
        }

        process.WaitForExit();
        lock (output)
        {
            return new ProcessRun(process.ExitCode, output.ToString());
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OnnxFactorize.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("OnnxFactorize.sln not found above the test folder");
    }
}
