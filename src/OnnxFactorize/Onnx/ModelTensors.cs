using OnnxFactorize.Onnx.Proto;

namespace OnnxFactorize.Onnx;

/// <summary>Enumerates every tensor stored in a model: initializers, sparse initializers, tensor attributes, in the main
/// graph, every subgraph, functions and training info, in a fixed order (graph by graph, depth first).</summary>
public static class ModelTensors
{
    /// <summary>All dense tensors of the model, including the values and indices of sparse tensors.</summary>
    public static IEnumerable<TensorProto> All(ModelProto model)
    {
        if (model.Graph is not null)
        {
            foreach (var t in InGraph(model.Graph))
            {
                yield return t;
            }
        }

        foreach (var info in model.TrainingInfo)
        {
            foreach (var g in new[] { info.Initialization, info.Algorithm })
            {
                if (g is null)
                {
                    continue;
                }

                foreach (var t in InGraph(g))
                {
                    yield return t;
                }
            }
        }

        foreach (var function in model.Functions)
        {
            foreach (var node in function.Node)
            {
                foreach (var t in InAttributes(node.Attribute))
                {
                    yield return t;
                }
            }

            foreach (var t in InAttributes(function.AttributeProto))
            {
                yield return t;
            }
        }
    }

    /// <summary>Tensors of one graph and its nested subgraphs.</summary>
    public static IEnumerable<TensorProto> InGraph(GraphProto graph)
    {
        foreach (var t in graph.Initializer)
        {
            yield return t;
        }

        foreach (var s in graph.SparseInitializer)
        {
            foreach (var t in Sparse(s))
            {
                yield return t;
            }
        }

        foreach (var node in graph.Node)
        {
            foreach (var t in InAttributes(node.Attribute))
            {
                yield return t;
            }
        }
    }

    private static IEnumerable<TensorProto> InAttributes(IEnumerable<AttributeProto> attributes)
    {
        foreach (var a in attributes)
        {
            if (a.T is not null)
            {
                yield return a.T;
            }

            foreach (var t in a.Tensors)
            {
                yield return t;
            }

            if (a.SparseTensor is not null)
            {
                foreach (var t in Sparse(a.SparseTensor))
                {
                    yield return t;
                }
            }

            foreach (var s in a.SparseTensors)
            {
                foreach (var t in Sparse(s))
                {
                    yield return t;
                }
            }

            if (a.G is not null)
            {
                foreach (var t in InGraph(a.G))
                {
                    yield return t;
                }
            }

            foreach (var g in a.Graphs)
            {
                foreach (var t in InGraph(g))
                {
                    yield return t;
                }
            }
        }
    }

    private static IEnumerable<TensorProto> Sparse(SparseTensorProto sparse)
    {
        if (sparse.Values is not null)
        {
            yield return sparse.Values;
        }

        if (sparse.Indices is not null)
        {
            yield return sparse.Indices;
        }
    }
}
