using OnnxFactorize.Passes;

namespace OnnxFactorize.Planning;

public sealed partial class BudgetPlanner
{
    // What the measured refinement changed: each node's rung before it, and per node the last step measured over budget.
    private sealed record Refinement(int[] Before, Dictionary<int, (int Rung, double Measured)> Rejected)
    {
        public static Refinement None(int[] choice) => new((int[])choice.Clone(), []);
    }

    // Greedy refinement by measurement. The allocator combines single-node errors as independent (quadrature), which
    // over-prices nodes whose errors partly cancel in the whole model; once a verified answer is within budget, the
    // remaining budget is spent by trying one rung change at a time, largest objective saving first, measuring the whole
    // model and keeping the change only when it stays within budget. A node whose smallest further step was measured
    // over budget is not tried again.
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
        var settled = new bool[plans.Count];
        for (var attempt = 1; attempt <= limit; attempt++)
        {
            _ct.ThrowIfCancellationRequested();
            if (NextMove(plans, allowed, current, settled) is not { } move)
            {
                break;
            }

            var (node, rung) = move;
            var plan = plans[node];
            var trial = (int[])current.Clone();
            trial[node] = rung;
            var what = current[node] < 0
                ? $"factorize '{plan.NodeName}' at rank {plan.Ladder[rung].Rank} (left out by the estimate)"
                : $"lower '{plan.NodeName}' from rank {plan.Ladder[current[node]].Rank} to rank {plan.Ladder[rung].Rank}";
            Report(PlanPhase.Verify, attempt, limit, $"refinement: {what}");
            var (result, error) = Verify(plans, trial);
            var kept = error <= _options.Allowance;
            if (kept)
            {
                (final, current, measured) = (result, trial, error);
            }
            else
            {
                settled[node] = true;
                refinement.Rejected[node] = (rung, error);
            }

            steps.Add(new VerificationStep(steps.Count + 1, RankAllocator.Estimate(plans, trial, _options.Metric), error,
                RankAllocator.Objective(plans, trial, _options.Target), $"refinement: {what}; {(kept ? "within budget; kept" : "over budget; rejected")}"));
        }

        return (final, current, measured, refinement);
    }

    // The untried step with the largest objective saving: a chosen node's next cheaper allowed rung (the smallest saving
    // beyond its current one), or an excluded node's least damaging allowed rung. Ties go to the earlier node, then rung.
    private (int Node, int Rung)? NextMove(List<NodePlan> plans, List<bool[]> allowed, int[] current, bool[] settled)
    {
        (int Node, int Rung, double Gain)? best = null;
        for (var i = 0; i < plans.Count; i++)
        {
            if (settled[i])
            {
                continue;
            }

            var ladder = plans[i].Ladder;
            var now = current[i] < 0 ? 0 : RankAllocator.Benefit(plans[i], ladder[current[i]], _options.Target);
            var options = Enumerable.Range(0, ladder.Count)
                .Where(j => allowed[i][j] && RankAllocator.Benefit(plans[i], ladder[j], _options.Target) > now)
                .ToList();
            if (options.Count == 0)
            {
                continue;
            }

            var rung = current[i] < 0
                ? options.MinBy(j => (ladder[j].Error, -RankAllocator.Benefit(plans[i], ladder[j], _options.Target)))
                : options.MinBy(j => (RankAllocator.Benefit(plans[i], ladder[j], _options.Target), ladder[j].Error));
            var gain = RankAllocator.Benefit(plans[i], ladder[rung], _options.Target) - now;
            if (best is null || gain > best.Value.Gain)
            {
                best = (i, rung, gain);
            }
        }

        return best is { } b ? (b.Node, b.Rung) : null;
    }
}
