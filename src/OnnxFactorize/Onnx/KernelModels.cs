using Google.Protobuf;
using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Onnx;

/// <summary>One-node models the engine runs as kernels in ONNX Runtime.</summary>
internal static class KernelModels
{
    /// <summary>Y = op(A)·op(B) as ONNX Gemm (opset 13, alpha 1, no C), all dimensions symbolic: transA/transB are native
    /// attributes, so no Transpose node.</summary>
    public static byte[] Gemm(bool transA, bool transB)
    {
        var node = new NodeProto { OpType = "Gemm", Name = "gemm" };
        node.Input.Add("A");
        node.Input.Add("B");
        node.Output.Add("Y");
        node.Attribute.Add(new AttributeProto { Name = "transA", Type = AttributeProto.Types.AttributeType.Int, I = transA ? 1 : 0 });
        node.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = transB ? 1 : 0 });
        var graph = new GraphProto { Name = "gemm" };
        graph.Node.Add(node);
        graph.Input.Add(Matrix("A", transA ? "k" : "m", transA ? "m" : "k"));
        graph.Input.Add(Matrix("B", transB ? "n" : "k", transB ? "k" : "n"));
        graph.Output.Add(Matrix("Y", "m", "n"));
        var model = new ModelProto { IrVersion = 8, ProducerName = "OnnxFactorize", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model.ToByteArray();
    }

    private static ValueInfoProto Matrix(string name, string rows, string cols)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = rows });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = cols });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
