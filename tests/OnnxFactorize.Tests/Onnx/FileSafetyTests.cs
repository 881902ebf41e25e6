using System.Diagnostics;
using Google.Protobuf;
using OnnxFactorize.Onnx;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Tests.Graph;

namespace OnnxFactorize.Tests.Onnx;

/// <summary>The engine's file-safety rules (docs/file-safety.md) as every front end and library caller gets them:
/// <see cref="OutputPaths"/>, <see cref="TempFiles"/>, <see cref="ModelCheck"/> and <see cref="OnnxModel.Save(string, SaveOptions?)"/>.</summary>
public sealed class FileSafetyTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ofz-safety-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string P(string relative) => Path.Combine(_folder, relative);

    private static ModelProto Model()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(GraphBuilder.FloatInfo("X", 2, 64));
        g.Initializer.Add(GraphBuilder.Tensor("W", [64, 32], GraphBuilder.Random(64 * 32, 3)));
        g.Node.Add(GraphBuilder.Node("MatMul", "mm", ["X", "W"], ["Y"]));
        g.Output.Add(GraphBuilder.FloatInfo("Y", 2, 32));
        return GraphBuilder.Model(g);
    }

    [Fact]
    public void Real_path_resolves_links_in_every_ancestor_and_in_the_link_target()
    {
        Directory.CreateDirectory(P("a/sub"));
        File.WriteAllText(P("a/sub/m.onnx"), "x");
        Directory.CreateSymbolicLink(P("L"), P("a"));
        Directory.CreateSymbolicLink(P("a/up"), "..");
        File.CreateSymbolicLink(P("a/sub/rel.onnx"), "m.onnx");

        var real = OutputPaths.RealPath(P("a/sub/m.onnx"));
        Assert.Equal(real, OutputPaths.RealPath(P("L/sub/m.onnx")));
        Assert.Equal(real, OutputPaths.RealPath(P("L/up/a/sub/./m.onnx")));
        Assert.Equal(real, OutputPaths.RealPath(P("L/sub/rel.onnx")));
        Assert.True(OutputPaths.SameFile(P("L/sub/new.json"), P("a/sub/new.json")), "a file not yet written resolves through its folder");
        Assert.False(OutputPaths.SameFile(P("a/sub/m.onnx"), P("a/sub/m.onnx.data")));
    }

    [Fact]
    public void Check_distinct_names_both_roles()
    {
        Directory.CreateDirectory(P("d"));
        Directory.CreateSymbolicLink(P("link"), P("d"));
        var e = Assert.Throws<OnnxFactorizeException>(() => OutputPaths.CheckDistinct([("input model", P("d/m.onnx"))], [("--report", P("link/m.onnx"))]));
        Assert.Contains("--report", e.Message);
        Assert.Contains("same file as the input model", e.Message);

        e = Assert.Throws<OnnxFactorizeException>(() => OutputPaths.CheckDistinct([], [("--report", P("d/r")), ("--html", P("link/../d/r"))]));
        Assert.Contains("same file as the --report", e.Message);

        OutputPaths.CheckDistinct([("input model", P("d/m.onnx"))], [("output", P("d/out.onnx")), ("output's data file", P("d/out.onnx.data"))]);
    }

    [Fact]
    public void Non_regular_files_are_named_without_being_opened()
    {
        Assert.Null(OutputPaths.NonRegularKind(P("missing")));
        File.WriteAllText(P("f"), "x");
        Assert.Null(OutputPaths.NonRegularKind(P("f")));
        Assert.Equal("a character device", OutputPaths.NonRegularKind("/dev/null"));
        Assert.Equal("a folder", OutputPaths.NonRegularKind(_folder));
        using (var mkfifo = Process.Start("mkfifo", P("fifo")))
        {
            mkfifo.WaitForExit();
        }

        Assert.Equal("a FIFO (named pipe)", OutputPaths.NonRegularKind(P("fifo")));
        var e = Assert.Throws<OnnxFactorizeException>(() => OnnxModel.Load(P("fifo")));
        Assert.Contains("FIFO", e.Message);
    }

    [Fact]
    public void Saving_refuses_the_source_and_the_files_its_external_data_lives_in()
    {
        var source = P("m.onnx");
        OnnxModel.FromProto(Model()).Save(source, new SaveOptions { ExternalData = ExternalDataMode.Always });
        var loaded = OnnxModel.Load(source);
        Directory.CreateSymbolicLink(P("link"), _folder);

        Assert.Contains("same file as the input model", Assert.Throws<OnnxFactorizeException>(() => loaded.Save(P("link/m.onnx"))).Message);
        Assert.Contains("same file as the input's external data", Assert.Throws<OnnxFactorizeException>(() => loaded.Save(P("m.onnx.data"))).Message);

        // A model derived from it (through the graph) keeps the source's identity.
        var exported = OnnxFactorize.Graph.ModelGraph.Import(loaded).Export();
        Assert.Throws<OnnxFactorizeException>(() => exported.Save(source));
    }

    [Fact]
    public void The_data_file_is_named_after_the_output_so_two_outputs_never_share_one()
    {
        OnnxModel.FromProto(Model()).Save(P("in/m.onnx"), new SaveOptions { ExternalData = ExternalDataMode.Always });
        var loaded = OnnxModel.Load(P("in/m.onnx"));
        loaded.Save(P("out/a.onnx"));
        var aData = File.ReadAllBytes(P("out/a.onnx.data"));
        loaded.Save(P("out/b.onnx"));
        Assert.Equal(aData, File.ReadAllBytes(P("out/a.onnx.data")));
        Assert.Equal("b.onnx.data", ExternalData.Entry(OnnxModel.Load(P("out/b.onnx")).Proto.Graph.Initializer[0], "location"));
        Assert.Equal(["a.onnx", "a.onnx.data", "b.onnx", "b.onnx.data"], Directory.GetFiles(P("out")).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_failed_save_leaves_the_previous_output_in_place_and_no_temp_files()
    {
        OnnxModel.FromProto(Model()).Save(P("out.onnx"));
        var modelBefore = File.ReadAllBytes(P("out.onnx"));

        // The data file's name is taken by a folder: the data rename fails after both temporary files were written.
        Directory.CreateDirectory(P("out.onnx.data"));
        var e = Assert.Throws<OnnxFactorizeException>(() => OnnxModel.FromProto(Model()).Save(P("out.onnx"), new SaveOptions { ExternalData = ExternalDataMode.Always }));
        Assert.Contains("cannot write the model", e.Message);

        Assert.Equal(modelBefore, File.ReadAllBytes(P("out.onnx")));
        Assert.Equal(["out.onnx"], Directory.GetFiles(_folder).Select(f => Path.GetFileName(f)));
    }

    [Fact]
    public void Stale_temp_files_of_dead_processes_are_swept_and_live_ones_kept()
    {
        int deadPid;
        using (var process = Process.Start("true"))
        {
            process.WaitForExit();
            deadPid = process.Id;
        }

        var stale = P($".ofz-{deadPid}-0123456789ab.tmp");
        var live = P($".ofz-{Environment.ProcessId}-0123456789ab.tmp");
        var foreign = P(".ofz-notours.tmp");
        foreach (var f in new[] { stale, live, foreign })
        {
            File.WriteAllText(f, "x");
        }

        Assert.Equal(1, TempFiles.SweepStale(_folder));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(foreign));
        Assert.True(Path.GetFileName(TempFiles.NewPath(_folder)).Length < 40, "temp names fit beside any 255-byte output name");
    }

    [Fact]
    public void A_model_with_nothing_to_change_still_round_trips_byte_identically_through_the_checks()
    {
        var bytes = Model().ToByteArray();
        File.WriteAllBytes(P("m.onnx"), bytes);
        OnnxFactorize.Graph.ModelGraph.Import(OnnxModel.Load(P("m.onnx"))).Export().Save(P("copy.onnx"));
        Assert.Equal(bytes, File.ReadAllBytes(P("copy.onnx")));
    }

    public static TheoryData<string, string> Broken => new()
    {
        { "cycle", "earlier node" },
        { "duplicate", "one producer" },
        { "no-opset", "imports no opset" },
        { "ir0", "ir_version is 0" },
        { "int8", "INT8, which MatMul does not accept" },
        { "negative", "negative dim" },
        { "overflow", "more than 2^31 elements" },
        { "bytes", "holds 12 bytes" },
        { "typed", "holds 3 values" },
        { "subgraph-outer", "not a graph input" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Structural_rules_are_checked_on_load(string variant, string expected)
    {
        var m = Model();
        var g = m.Graph;
        switch (variant)
        {
            case "cycle":
                g.Node.Add(GraphBuilder.Node("Relu", "r1", ["Z"], ["Q"]));
                g.Node.Add(GraphBuilder.Node("Relu", "r2", ["Q"], ["Z"]));
                break;
            case "duplicate":
                g.Node.Add(GraphBuilder.Node("Relu", "r", ["X"], ["Y"]));
                break;
            case "no-opset":
                m.OpsetImport.Clear();
                break;
            case "ir0":
                m.IrVersion = 0;
                break;
            case "int8":
                g.Initializer[0] = new TensorProto { Name = "W", DataType = (int)TensorProto.Types.DataType.Int8, RawData = ByteString.CopyFrom(new byte[64 * 32]), Dims = { 64, 32 } };
                break;
            case "negative":
                g.Initializer[0].Dims[0] = -64;
                break;
            case "overflow":
                g.Initializer[0].Dims[0] = long.MaxValue;
                break;
            case "bytes":
                g.Initializer[0].RawData = ByteString.CopyFrom(new byte[12]);
                break;
            case "typed":
                g.Initializer[0] = new TensorProto { Name = "W", DataType = (int)TensorProto.Types.DataType.Float, FloatData = { 1, 2, 3 }, Dims = { 64, 32 } };
                break;
            default:
                var body = new GraphProto { Name = "body" };
                body.Node.Add(GraphBuilder.Node("Relu", "inner", ["nowhere"], ["o"]));
                body.Output.Add(GraphBuilder.FloatInfo("o", 2, 32));
                g.Node.Add(GraphBuilder.Node("If", "if", ["X"], ["Z"], GraphBuilder.Graph("then_branch", body), GraphBuilder.Graph("else_branch", body)));
                break;
        }

        File.WriteAllBytes(P("bad.onnx"), m.ToByteArray());
        var e = Assert.Throws<OnnxFactorizeException>(() => OnnxModel.Load(P("bad.onnx")));
        Assert.Contains("bad.onnx: invalid ONNX model", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Subgraphs_may_read_values_of_the_enclosing_graph()
    {
        var m = Model();
        var body = new GraphProto { Name = "body" };
        body.Node.Add(GraphBuilder.Node("Relu", "inner", ["Y"], ["o"]));
        body.Output.Add(GraphBuilder.FloatInfo("o", 2, 32));
        m.Graph.Input.Add(GraphBuilder.Info("C", (int)TensorProto.Types.DataType.Bool));
        m.Graph.Node.Add(GraphBuilder.Node("If", "if", ["C"], ["Z"], GraphBuilder.Graph("then_branch", body), GraphBuilder.Graph("else_branch", body)));
        ModelCheck.Validate(m, "m");
    }

    [Fact]
    public void Reading_floats_checks_dims_against_the_bytes_before_allocating()
    {
        var t = new TensorProto { Name = "W", DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(new byte[16]), Dims = { 65536, 65536 } };
        Assert.Contains("more than 2^31", Assert.Throws<OnnxFactorizeException>(() => TensorData.ReadFloats(t, null, "m")).Message);
        t.Dims.Clear();
        t.Dims.Add(-16);
        t.Dims.Add(-8);
        Assert.Contains("negative dim", Assert.Throws<OnnxFactorizeException>(() => TensorData.ReadFloats(t, null, "m")).Message);
        t.Dims.Clear();
        t.Dims.Add(8);
        Assert.Contains("holds 16 bytes but its dims need 32", Assert.Throws<OnnxFactorizeException>(() => TensorData.ReadFloats(t, null, "m")).Message);
    }
}
