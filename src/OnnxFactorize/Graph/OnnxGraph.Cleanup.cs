namespace OnnxFactorize.Graph;

/// <content>Dead-code removal and topological sort.</content>
public sealed partial class OnnxGraph
{
    /// <summary>Marks every node needed by this graph's outputs, following producers across scopes and into the subgraphs
    /// of live nodes.</summary>
    internal static void MarkLive(OnnxGraph graph, HashSet<Node> live)
    {
        var work = new Stack<Value>(graph._outputs);
        while (work.Count > 0)
        {
            var value = work.Pop();
            var producer = value.Producer;
            if (producer is null || !live.Add(producer))
            {
                continue;
            }

            foreach (var input in producer.Inputs)
            {
                if (input is not null)
                {
                    work.Push(input);
                }
            }

            foreach (var sub in producer.Subgraphs)
            {
                foreach (var output in sub._outputs)
                {
                    work.Push(output);
                }
            }
        }
    }

    /// <summary>Removes nodes not in <paramref name="live"/>, then initializers and values nobody reads. Graph inputs and
    /// outputs are never removed or renamed. Recurses into the subgraphs of surviving nodes.</summary>
    internal int Sweep(HashSet<Node> live)
    {
        var removed = 0;
        for (var i = _nodes.Count - 1; i >= 0; i--)
        {
            var node = _nodes[i];
            if (live.Contains(node))
            {
                continue;
            }

            Detach(node);
            _nodes.RemoveAt(i);
            removed++;
        }

        // Values of removed nodes go too; an output of the graph is never produced by a dead node.
        foreach (var value in _values.Values.Where(v => v.Producer is { } p && p.Graph == this && !live.Contains(p)).ToList())
        {
            _values.Remove(value.Name);
        }

        // Subgraphs first: their dead nodes may be the last readers of this scope's initializers.
        foreach (var node in _nodes)
        {
            foreach (var sub in node.Subgraphs)
            {
                removed += sub.Sweep(live);
            }
        }

        for (var i = _initializers.Count - 1; i >= 0; i--)
        {
            var value = _initializers[i];
            if (value.Consumers.Count == 0 && !value.IsGraphInput && !IsOutput(value) && !IsOutputOfAnySubgraph(value))
            {
                _initializers.RemoveAt(i);
                _values.Remove(value.Name);
                removed++;
            }
        }

        if (removed > 0)
        {
            MarkModified();
        }

        return removed;
    }

    private bool IsOutputOfAnySubgraph(Value value) =>
        _nodes.Any(n => n.Subgraphs.Any(s => s.IsOutput(value) || s.IsOutputOfAnySubgraph(value)));

    /// <summary>Disconnects a node and everything inside its subgraphs from the consumer index.</summary>
    private static void Detach(Node node)
    {
        node.DetachInputs();
        foreach (var sub in node.Subgraphs)
        {
            foreach (var inner in sub._nodes)
            {
                Detach(inner);
            }
        }
    }

    /// <summary>Orders nodes so every node follows the producers of its inputs, including values its subgraphs read from
    /// this scope. Stable: nodes already in order keep their relative order. Recurses into subgraphs.</summary>
    public void TopologicalSort()
    {
        var index = new Dictionary<Node, int>();
        for (var i = 0; i < _nodes.Count; i++)
        {
            index[_nodes[i]] = i;
        }

        var dependents = _nodes.ToDictionary(n => n, _ => new List<Node>());
        var pending = new Dictionary<Node, int>();
        foreach (var node in _nodes)
        {
            var producers = new HashSet<Node>();
            foreach (var value in UsedValues(node))
            {
                if (value.Producer is { } p && p != node && p.Graph == this)
                {
                    producers.Add(p);
                }
            }

            pending[node] = producers.Count;
            foreach (var p in producers)
            {
                dependents[p].Add(node);
            }
        }

        var ready = new PriorityQueue<Node, int>();
        foreach (var node in _nodes)
        {
            if (pending[node] == 0)
            {
                ready.Enqueue(node, index[node]);
            }
        }

        var sorted = new List<Node>(_nodes.Count);
        while (ready.TryDequeue(out var node, out _))
        {
            sorted.Add(node);
            foreach (var d in dependents[node])
            {
                if (--pending[d] == 0)
                {
                    ready.Enqueue(d, index[d]);
                }
            }
        }

        if (sorted.Count != _nodes.Count)
        {
            var stuck = _nodes.First(n => pending[n] > 0);
            throw new OnnxFactorizeException($"graph '{DisplayPath}' has a cycle through node {stuck}; the model is malformed.");
        }

        if (!sorted.SequenceEqual(_nodes))
        {
            _nodes.Clear();
            _nodes.AddRange(sorted);
            MarkModified();
        }

        foreach (var node in _nodes)
        {
            foreach (var sub in node.Subgraphs)
            {
                sub.TopologicalSort();
            }
        }
    }

    /// <summary>A node's inputs plus every outer value read inside its subgraphs (implicit inputs).</summary>
    private static IEnumerable<Value> UsedValues(Node node)
    {
        foreach (var input in node.Inputs)
        {
            if (input is not null)
            {
                yield return input;
            }
        }

        foreach (var sub in node.Subgraphs)
        {
            foreach (var inner in sub._nodes)
            {
                foreach (var v in UsedValues(inner))
                {
                    yield return v;
                }
            }

            foreach (var output in sub._outputs)
            {
                yield return output;
            }
        }
    }
}
