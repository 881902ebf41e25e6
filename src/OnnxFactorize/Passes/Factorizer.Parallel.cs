using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Passes;

public static partial class Factorizer
{
    /// <summary>Decides every candidate (<see cref="Decide"/> with its own policy) on the untouched graph, up to
    /// <see cref="FactorizeOptions.MaxParallelNodes"/> (n, default the cores) at once, largest weights first so the last
    /// worker is not left with the biggest node; the outcomes come back in candidate order. Each decomposition is capped at
    /// n ÷ workers threads (GEMM sessions included), so node workers and MLAS threads together never exceed n. The outcomes do not
    /// depend on the number of workers: decompositions are seeded per call and their kernels split outputs, not sums.
    /// <paramref name="progress"/> hears of each node as it starts (Done = nodes finished), then once at the end; the
    /// token is checked before each node and inside long decompositions, and the first failure stops the other workers.</summary>
    public static IReadOnlyList<NodeOutcome> DecideAll(IReadOnlyList<NodeCandidate> candidates, PassContext context, IProgress<FactorizeProgress>? progress = null) =>
        DecideAll(candidates, context, null, progress);

    /// <summary><see cref="DecideAll(IReadOnlyList{NodeCandidate}, PassContext, IProgress{FactorizeProgress}?)"/> with
    /// <paramref name="policy"/> for every node instead of each node's own (null: each node's own).</summary>
    public static IReadOnlyList<NodeOutcome> DecideAll(IReadOnlyList<NodeCandidate> candidates, PassContext context, RankPolicy? policy,
        IProgress<FactorizeProgress>? progress = null) =>
        DecideAll(candidates, context, policy, outcome => outcome, progress);

    /// <summary><see cref="DecideAll(IReadOnlyList{NodeCandidate}, PassContext, RankPolicy?, IProgress{FactorizeProgress}?)"/>
    /// keeping only <paramref name="select"/> of each outcome, so plans (factors, reconstructions) a caller does not emit
    /// are freed as soon as each node is decided.</summary>
    public static IReadOnlyList<T> DecideAll<T>(IReadOnlyList<NodeCandidate> candidates, PassContext context, RankPolicy? policy,
        Func<NodeOutcome, T> select, IProgress<FactorizeProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(select);
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(context);
        var cancellationToken = context.CancellationToken;
        var outcomes = new T[candidates.Count];
        var total = candidates.Count;
        var cores = Environment.ProcessorCount;
        var budget = context.Options.MaxParallelNodes <= 0 ? cores : context.Options.MaxParallelNodes;
        var workers = Math.Clamp(budget, 1, Math.Max(1, total));
        var threadsPerNode = Math.Max(1, budget / workers);
        var done = 0;
        var gate = new Lock();
        var work = candidates.Select(c => WorkUnits.Of(c.Node)).ToArray();
        var (workDone, workTotal) = (0.0, work.Sum());

        void One(int i)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var candidate = candidates[i];
            lock (gate)
            {
                progress?.Report(new FactorizeProgress(done, total, candidate.Label) { WorkDone = workDone, WorkTotal = workTotal });
            }

            outcomes[i] = select(Decide(candidate, context, policy ?? context.PolicyFor(candidate.Node)));
            lock (gate)
            {
                done++;
                workDone += work[i];
            }
        }

        if (workers == 1)
        {
            using var cap = Parallelism.Limit(threadsPerNode);
            for (var i = 0; i < total; i++)
            {
                One(i);
            }
        }
        else
        {
            var order = WorkItems(candidates);
            var next = -1;
            var options = new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellationToken };

            // One long-lived worker per slot taking the next-largest node, rather than Parallel.For's range partitioning,
            // so the order of work is the size order above whatever the scheduler does.
            try
            {
                Parallel.For(0, workers, options, (_, state) =>
                {
                    using var cap = Parallelism.Limit(threadsPerNode);
                    for (var k = Interlocked.Increment(ref next); k < order.Count && !state.ShouldExitCurrentIteration; k = Interlocked.Increment(ref next))
                    {
                        foreach (var i in order[k])
                        {
                            One(i);
                        }
                    }
                });
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                // The caller sees what a sequential run would throw: cancellation, else a one-line error, not a wrapper.
                cancellationToken.ThrowIfCancellationRequested();
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        progress?.Report(new FactorizeProgress(total, total, "") { WorkDone = workTotal, WorkTotal = workTotal });
        return outcomes;
    }

    // The candidates as work items, largest first: nodes sharing a constant tensor (tied weights) form one item decided in
    // graph order, as a sequential run would, since the first of them fills the per-tensor SVD cache the others reuse.
    private static List<int[]> WorkItems(IReadOnlyList<NodeCandidate> candidates)
    {
        var parent = Enumerable.Range(0, candidates.Count).ToArray();
        int Root(int i) => parent[i] == i ? i : parent[i] = Root(parent[i]);
        var owner = new Dictionary<Onnx.Proto.TensorProto, int>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < candidates.Count; i++)
        {
            foreach (var input in candidates[i].Node.Inputs)
            {
                if (input is not null && PassContext.ConstantTensor(input) is { } tensor)
                {
                    if (owner.TryGetValue(tensor, out var j))
                    {
                        parent[Root(i)] = Root(j);
                    }
                    else
                    {
                        owner[tensor] = i;
                    }
                }
            }
        }

        return Enumerable.Range(0, candidates.Count)
            .GroupBy(Root)
            .Select(g => g.Order().ToArray())
            .OrderByDescending(item => item.Sum(i => WeightSize(candidates[i])))
            .ThenBy(item => item[0])
            .ToList();
    }

    // Elements of the node's constant inputs (the order of work only, never a result).
    private static long WeightSize(NodeCandidate candidate) =>
        candidate.Node.Inputs.Sum(input => input is not null && PassContext.ConstantTensor(input) is { } tensor ? tensor.Dims.Aggregate(1L, (a, d) => a * Math.Max(d, 1)) : 0);

    // Plans every rule, returning the plans and the rejection reasons in rule order (ties go to the earlier rule). Rules
    // that can price themselves (IPricedRule: exact FLOPs and parameters without the decomposition) are planned after the
    // others, cheapest first, and not decomposed when their price is already above a plan in hand (more FLOPs, or as many
    // and more parameters): they could not be chosen, so the choice and the written bytes are those of planning them all.
    private static (List<FactorizationPlan> Plans, List<string> Rejected) PlanAll(List<IFactorizationRule> rules, FactorizationCandidate subject,
        RankTarget target, CancellationToken cancellationToken)
    {
        var plans = new FactorizationPlan?[rules.Count];
        var reasons = new string?[rules.Count];
        FactorizationPlan? best = null;
        var prices = new (long Flops, long Params)?[rules.Count];
        if (rules.Count > 1)
        {
            for (var i = 0; i < rules.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                prices[i] = rules[i] is IPricedRule priced ? priced.Price(subject, target) : null;
            }
        }

        // Unpriced rules first (in rule order), then the priced ones cheapest first, so the cheapest is in hand early.
        var order = Enumerable.Range(0, rules.Count)
            .OrderBy(i => prices[i] is null ? 0 : 1)
            .ThenBy(i => prices[i]?.Flops ?? 0).ThenBy(i => prices[i]?.Params ?? 0).ThenBy(i => i);
        foreach (var i in order)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rule = rules[i];
            if (best is { Decision: var b } && prices[i] is { } price
                && (price.Flops > b.FlopsAfter || (price.Flops == b.FlopsAfter && price.Params > b.ParamsAfter)))
            {
                reasons[i] = $"{rule.Method} {price.Flops} FLOPs (not decomposed: more than {b.Method})";
                continue;
            }

            if (rule.Plan(subject, target, out var reason) is { } plan)
            {
                plans[i] = plan;
                var d = plan.Decision;
                if (best is null || d.FlopsAfter < best.Decision.FlopsAfter || (d.FlopsAfter == best.Decision.FlopsAfter && d.ParamsAfter < best.Decision.ParamsAfter))
                {
                    best = plan;
                }
            }
            else
            {
                reasons[i] = reason;
            }
        }

        return (plans.OfType<FactorizationPlan>().ToList(), reasons.OfType<string>().ToList());
    }
}
