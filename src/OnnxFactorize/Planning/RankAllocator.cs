namespace OnnxFactorize.Planning;

/// <summary>Chooses one ladder rung (or none) per node to maximize the objective reduction under an error budget, from the
/// single-node measurements. Errors of different nodes are combined as independent perturbations: relative L2 errors in
/// quadrature (Σ e²), accuracy drops and disagreement fractions additively. Greedy marginal analysis of the multiple-choice
/// knapsack: repeatedly take the move (node to a cheaper rung) with the best benefit per unit of budget spent.</summary>
internal static class RankAllocator
{
    /// <summary>Per node the chosen rung index into its ladder, or -1 to leave it.</summary>
    public static int[] Allocate(IReadOnlyList<NodePlan> nodes, IReadOnlyList<bool[]> allowed, double costBudget, PlanTarget target, BudgetMetric metric)
    {
        var choice = Enumerable.Repeat(-1, nodes.Count).ToArray();
        var spent = 0.0;
        while (true)
        {
            var best = (Node: -1, Point: -1, Ratio: double.NegativeInfinity, Gain: 0.0);
            for (var i = 0; i < nodes.Count; i++)
            {
                var current = choice[i];
                var benefitNow = current < 0 ? 0 : Benefit(nodes[i], nodes[i].Ladder[current], target);
                var costNow = current < 0 ? 0 : Cost(nodes[i].Ladder[current].Error, metric);
                for (var j = 0; j < nodes[i].Ladder.Count; j++)
                {
                    if (!allowed[i][j] || j == current)
                    {
                        continue;
                    }

                    var gain = Benefit(nodes[i], nodes[i].Ladder[j], target) - benefitNow;
                    var extra = Cost(nodes[i].Ladder[j].Error, metric) - costNow;
                    if (gain <= 0 || spent + extra > costBudget * (1 + 1e-12))
                    {
                        continue;
                    }

                    // Free moves (no extra error) first, largest gain among them; then gain per unit of budget.
                    var ratio = extra <= 0 ? double.PositiveInfinity : gain / extra;
                    if (ratio > best.Ratio || (ratio == best.Ratio && gain > best.Gain))
                    {
                        best = (i, j, ratio, gain);
                    }
                }
            }

            if (best.Node < 0)
            {
                return choice;
            }

            var n = nodes[best.Node];
            spent += Cost(n.Ladder[best.Point].Error, metric) - (choice[best.Node] < 0 ? 0 : Cost(n.Ladder[choice[best.Node]].Error, metric));
            choice[best.Node] = best.Point;
        }
    }

    /// <summary>The budget spent by one node's measured error: e² for relative L2 (quadrature), else e (negative drops count as 0).</summary>
    public static double Cost(double error, BudgetMetric metric)
    {
        var e = Math.Max(error, 0);
        return metric == BudgetMetric.RelL2Error ? e * e : e;
    }

    /// <summary>Predicted whole-model error of an allocation.</summary>
    public static double Estimate(IReadOnlyList<NodePlan> nodes, int[] choice, BudgetMetric metric)
    {
        var total = 0.0;
        for (var i = 0; i < nodes.Count; i++)
        {
            total += choice[i] < 0 ? 0 : Cost(nodes[i].Ladder[choice[i]].Error, metric);
        }

        return metric == BudgetMetric.RelL2Error ? Math.Sqrt(total) : total;
    }

    /// <summary>Reduction of the target by one rung: FLOPs, parameters or milliseconds saved.</summary>
    public static double Benefit(NodePlan node, LadderPoint point, PlanTarget target) => target switch
    {
        PlanTarget.Params => node.ParamsBefore - point.Params,
        PlanTarget.Latency => node.OriginalLatencyMs is { } before && point.LatencyMs is { } after ? before - after : 0,
        _ => node.FlopsBefore - point.Flops,
    };

    /// <summary>Total objective reduction of an allocation.</summary>
    public static double Objective(IReadOnlyList<NodePlan> nodes, int[] choice, PlanTarget target)
    {
        var total = 0.0;
        for (var i = 0; i < nodes.Count; i++)
        {
            total += choice[i] < 0 ? 0 : Benefit(nodes[i], nodes[i].Ladder[choice[i]], target);
        }

        return total;
    }
}
