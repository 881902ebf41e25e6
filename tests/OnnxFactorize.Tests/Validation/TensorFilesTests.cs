using System.Text;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxFactorize.Onnx.Proto;
using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

public sealed class TensorFilesTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<TensorData> Tensors => new()
    {
        TensorData.Create("f4", [2, 3], new float[] { 1, -2, 3.5f, 4, 5, 6 }),
        TensorData.Create("f8", [2], new double[] { 1e-300, -7 }),
        TensorData.Create("f2", [2], new Float16[] { new(0x3C00), new(0xC000) }),
        TensorData.Create("i8", [1, 2], new long[] { long.MinValue, 42 }),
        TensorData.Create("i4", [3], new int[] { -1, 0, 1 }),
        TensorData.Create("u1", [2, 2], new byte[] { 0, 1, 254, 255 }),
        TensorData.Create("b1", [3], new bool[] { true, false, true }),
        TensorData.Create("scalar", [], new float[] { 9 }),
    };

    [Theory]
    [MemberData(nameof(Tensors))]
    public void Npy_and_pb_round_trip_every_supported_dtype(TensorData t)
    {
        TensorFiles.WriteNpy(_dir.File(t.Name + ".npy"), t);
        TensorFiles.WritePb(_dir.File(t.Name + ".pb"), t);

        foreach (var back in new[] { TensorFiles.Read(_dir.File(t.Name + ".npy")), TensorFiles.Read(_dir.File(t.Name + ".pb")) })
        {
            Assert.Equal(t.Name, back.Name);
            Assert.Equal(t.ElementType, back.ElementType);
            Assert.Equal(t.Shape, back.Shape);
            Assert.Equal(t.ToDoubles(), back.ToDoubles());
        }
    }

    [Fact]
    public void Npy_version_2_header_is_read()
    {
        var header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange([2, 0]);
        bytes.AddRange(BitConverter.GetBytes((uint)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(BitConverter.GetBytes(7L));
        bytes.AddRange(BitConverter.GetBytes(-3L));
        File.WriteAllBytes(_dir.File("v2.npy"), [.. bytes]);

        var t = TensorFiles.ReadNpy(_dir.File("v2.npy"));
        Assert.Equal(TensorElementType.Int64, t.ElementType);
        Assert.Equal(new long[] { 7, -3 }, (long[])t.Data);
    }

    [Fact]
    public void Truncated_npy_data_is_reported_with_the_byte_counts()
    {
        var path = _dir.File("x.npy");
        TensorFiles.WriteNpy(path, TensorData.Create("x", [4], new float[] { 1, 2, 3, 4 }));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^3]);

        var e = Assert.Throws<OnnxFactorizeException>(() => TensorFiles.Read(path));
        Assert.Contains("truncated data: shape [4] of float32 needs 16 bytes, found 13", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_npy_header_and_non_npy_files_are_reported()
    {
        File.WriteAllBytes(_dir.File("h.npy"), [0x93, .. "NUMPY"u8.ToArray(), 1, 0, 200, 0, 1, 2]);
        File.WriteAllBytes(_dir.File("n.npy"), "hello world"u8.ToArray());

        Assert.Contains("truncated .npy header", Assert.Throws<OnnxFactorizeException>(() => TensorFiles.Read(_dir.File("h.npy"))).Message, StringComparison.Ordinal);
        Assert.Contains("not a NumPy .npy file", Assert.Throws<OnnxFactorizeException>(() => TensorFiles.Read(_dir.File("n.npy"))).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(">f4", "big-endian")]
    [InlineData("<c16", "dtype '<c16' is not supported")]
    public void Unsupported_npy_dtypes_are_named(string descr, string expected)
    {
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}\n";
        File.WriteAllBytes(_dir.File("d.npy"), [0x93, .. "NUMPY"u8.ToArray(), 1, 0, (byte)header.Length, 0, .. Encoding.ASCII.GetBytes(header), .. new byte[16]]);

        var e = Assert.Throws<OnnxFactorizeException>(() => TensorFiles.Read(_dir.File("d.npy")));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pb_typed_fields_are_read_for_every_layout()
    {
        var f = new TensorProto { Name = "f", DataType = 1 };
        f.Dims.Add(2);
        f.FloatData.AddRange([1.5f, -2]);
        var i8 = new TensorProto { Name = "i8", DataType = (int)TensorProto.Types.DataType.Int8 };
        i8.Dims.Add(2);
        i8.Int32Data.AddRange([-5, 7]);
        var b = new TensorProto { Name = "b", DataType = (int)TensorProto.Types.DataType.Bool };
        b.Dims.Add(2);
        b.Int32Data.AddRange([1, 0]);
        var l = new TensorProto { Name = "l", DataType = (int)TensorProto.Types.DataType.Int64 };
        l.Dims.Add(1);
        l.Int64Data.Add(1L << 40);
        var d = new TensorProto { Name = "d", DataType = (int)TensorProto.Types.DataType.Double };
        d.Dims.Add(1);
        d.DoubleData.Add(0.25);

        Assert.Equal(new float[] { 1.5f, -2 }, (float[])TensorFiles.FromTensorProto(f, "f").Data);
        Assert.Equal(new sbyte[] { -5, 7 }, (sbyte[])TensorFiles.FromTensorProto(i8, "i8").Data);
        Assert.Equal(new[] { true, false }, (bool[])TensorFiles.FromTensorProto(b, "b").Data);
        Assert.Equal(new[] { 1L << 40 }, (long[])TensorFiles.FromTensorProto(l, "l").Data);
        Assert.Equal(new[] { 0.25 }, (double[])TensorFiles.FromTensorProto(d, "d").Data);
    }

    [Fact]
    public void Pb_with_too_few_values_or_garbage_bytes_is_reported()
    {
        var t = new TensorProto { Name = "x", DataType = 1 };
        t.Dims.AddRange([2, 2]);
        t.FloatData.AddRange([1, 2, 3]);
        File.WriteAllBytes(_dir.File("short.pb"), t.ToByteArray());
        File.WriteAllBytes(_dir.File("junk.pb"), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);

        Assert.Contains("needs 4 values but holds 3", Assert.Throws<OnnxFactorizeException>(() => TensorFiles.Read(_dir.File("short.pb"))).Message, StringComparison.Ordinal);
        Assert.Contains("not a valid ONNX TensorProto", Assert.Throws<OnnxFactorizeException>(() => TensorFiles.Read(_dir.File("junk.pb"))).Message, StringComparison.Ordinal);
    }
}
