namespace OnnxFactorize.Passes;

/// <summary>A rewrite of one kind of node into a cheaper factorized chain. A pass first selects (cheap checks: op type,
/// constant weight, supported attributes), then acts; it either rewrites the node fully or leaves the graph untouched,
/// and returns a decision saying which and why.</summary>
public interface IFactorizationPass
{
    /// <summary>Operator type the pass handles, e.g. "Gemm".</summary>
    string OpType { get; }

    /// <summary>Factorizes <paramref name="node"/> or skips it; never leaves it half-rewritten.</summary>
    FactorizationDecision Apply(Graph.Node node, PassContext context);
}
