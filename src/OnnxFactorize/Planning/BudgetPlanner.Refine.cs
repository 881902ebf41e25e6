using OnnxFactorize.Passes;

namespace OnnxFactorize.Planning;

public sealed partial class BudgetPlanner
{
    // What the measured refinement changed: each node's rung before it, and per node the steps measured over budget.
    private sealed record Refinement(int[] Before, Dictionary<int, List<(int Rung, double Measured)>> Rejected)
    {
        public static Refinement None(int[] choice) => new((int[])choice.Clone(), []);
    }

    // Greedy refinement by measurement. The allocator combines single-node errors as independent (quadrature), which
    // over-prices nodes whose errors partly cancel in the whole model; once a verified answer is within budget, the
    // remaining budget is spent by trying one rung change at a time, largest objective saving first, measuring the whole
    // model and keeping the change only when it stays within budget. A rung measured over budget is not tried again; the
    // node's next rung in line is.
    private (FactorizationResult Final, int[] Choice, double Measured, Refinement Refinement) Refine(List<NodePlan> plans, FactorizationResult final,
        int[] choice, double measured, List<VerificationStep> steps)
    {
        var refinement = Refinement.None(choice);
        var limit = _options.RefinementVerifications;
        if (limit == 0 || !final.Changed)
        {
            return (final, choice, measured, refinement);
        }

        var allowed = plans.Select(p => p.Ladder.Select(Allowed).ToArray()).ToList();
        var current = (int[])choice.Clone();
        var rejected = new HashSet<(int Node, int Rung)>();
        var knownOver = new HashSet<(int Node, int Rung)>();
        var attempt = 0;
        var misses = new int[plans.Count];
        while (attempt < limit && NextMove(plans, allowed, current, misses, m => rejected.Contains(m) || knownOver.Contains(m)) is { } move)
        {
            _ct.ThrowIfCancellationRequested();
            var (node, rung) = move;
            var plan = plans[node];
            var trial = (int[])current.Clone();
            trial[node] = rung;

            // With only this node factorized, its ladder error is already the whole-model measurement: no verification
            // needed. It is skipped only until another change is kept, which may cancel part of its error.
            if (trial.Count(c => c >= 0) == 1 && !(plan.Ladder[rung].Error <= _options.Allowance))
            {
                knownOver.Add(move);
                continue;
            }

            attempt++;
            var what = current[node] < 0
                ? $"factorize '{plan.NodeName}' at rank {plan.Ladder[rung].Rank} (left out by the estimate)"
                : $"lower '{plan.NodeName}' from rank {plan.Ladder[current[node]].Rank} to rank {plan.Ladder[rung].Rank}";
            Report(PlanPhase.Verify, attempt, limit, $"refinement: {what}");
            var (result, error) = Verify(plans, trial);
            var kept = error <= _options.Allowance;
            if (kept)
            {
                (final, current, measured) = (result, trial, error);
                knownOver.Clear();
            }
            else
            {
                rejected.Add(move);
                misses[node]++;
                if (!refinement.Rejected.TryGetValue(node, out var list))
                {
                    refinement.Rejected[node] = list = [];
                }

                list.Add((rung, error));
            }

            steps.Add(new VerificationStep(steps.Count + 1, RankAllocator.Estimate(plans, trial, _options.Metric), error,
                RankAllocator.Objective(plans, trial, _options.Target), $"refinement: {what}; {(kept ? "within budget; kept" : "over budget; rejected")}"));
        }

        return (final, current, measured, refinement);
    }

    // Each node's next untried step: a chosen node's next cheaper allowed rung (the smallest saving beyond its current
    // one), an excluded node's least damaging allowed rung (by its single-node error). Of these, the one with the largest
    // objective saving among the nodes with the fewest steps measured over budget so far, so one node's failures do not
    // use up the allowance before the others are tried; ties go to the earlier node.
    private (int Node, int Rung)? NextMove(List<NodePlan> plans, List<bool[]> allowed, int[] current, int[] misses, Func<(int Node, int Rung), bool> excluded)
    {
        (int Node, int Rung, double Gain)? best = null;
        for (var i = 0; i < plans.Count; i++)
        {
            var ladder = plans[i].Ladder;
            var benefit = ladder.Select(p => RankAllocator.Benefit(plans[i], p, _options.Target)).ToArray();
            var now = current[i] < 0 ? 0 : benefit[current[i]];
            var options = Enumerable.Range(0, ladder.Count).Where(j => allowed[i][j] && benefit[j] > now && !excluded((i, j))).ToList();
            if (options.Count == 0)
            {
                continue;
            }

            var rung = current[i] < 0
                ? options.MinBy(j => (ladder[j].Error, -benefit[j]))
                : options.MinBy(j => (benefit[j], ladder[j].Error));
            var gain = benefit[rung] - now;
            if (best is not { } top || misses[i] < misses[top.Node] || (misses[i] == misses[top.Node] && gain > top.Gain))
            {
                best = (i, rung, gain);
            }
        }

        return best is { } b ? (b.Node, b.Rung) : null;
    }
}
