#:project ../../tests/OnnxFactorize.Cli.Tests/OnnxFactorize.Cli.Tests.csproj
// Writes the adversarial corpus (generated in code by tests/OnnxFactorize.Cli.Tests/AdversarialModels.cs) into a folder:
//   dotnet run tools/adversarial/corpus.cs -- <folder>
using OnnxFactorize.Cli.Tests;
using OnnxFactorize.Onnx;

var dir = args.Length > 0 ? args[0] : "corpus";
Directory.CreateDirectory(dir);
AdversarialModels.Write(AdversarialModels.Mlp(), Path.Combine(dir, "mlp.onnx"));
foreach (var (name, (build, _)) in AdversarialModels.Invalid)
{
    AdversarialModels.Write(build(), Path.Combine(dir, name + ".onnx"));
}

AdversarialModels.Write(AdversarialModels.WithInputDims(65536, 65536), Path.Combine(dir, "huge.onnx"));
AdversarialModels.Write(AdversarialModels.EmptyGemm(1, 0), Path.Combine(dir, "empty10.onnx"));
AdversarialModels.Write(AdversarialModels.EmptyGemm(0, 4), Path.Combine(dir, "empty04.onnx"));
var unused = AdversarialModels.Mlp();
unused.Graph.Initializer.Add(TensorData.Create("unused", [4], new float[4]));
AdversarialModels.Write(unused, Path.Combine(dir, "unused.onnx"));
