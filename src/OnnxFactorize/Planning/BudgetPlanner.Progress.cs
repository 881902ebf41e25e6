namespace OnnxFactorize.Planning;

// The work behind the node-measuring progress reports (Ladder, Sensitivity, Latency), counted in steps as they complete:
// pricing a node's ladder is one step, each end-to-end error evaluation and each latency measurement of a rung another.
// How many rungs a node has is known once its ladder is priced; nodes not priced yet are estimated at the mean of those
// that were (at first, the ladder's size from the options). Nodes answered from the plan cache leave the total, so the
// ETA is not skewed by work that took no time.
public sealed partial class BudgetPlanner
{
    private double[] _nodeSteps = [];
    private bool[] _nodePriced = [];
    private double _stepsDone;
    private double _stepsPriced;
    private int _nodesPriced;
    private double _stepsGuess;

    private void BeginNodeWork(IReadOnlyList<Passes.NodeCandidate> candidates)
    {
        _stepsGuess = 1 + ((_options.Energies.Count + _options.CostFractions.Count) * (MeasuresLatency ? 2 : 1));
        _nodeSteps = [.. candidates.Select(_ => _stepsGuess)];
        _nodePriced = new bool[candidates.Count];
        (_stepsDone, _stepsPriced, _nodesPriced) = (0, 0, 0);
    }

    // A cached node costs nothing and says nothing about the size of the others.
    private void NodeCached(int index)
    {
        _nodePriced[index] = true;
        _nodeSteps[index] = 0;
    }

    // The node's ladder is priced: its real number of steps replaces the guess, and the guess for the rest follows the mean.
    private void NodePriced(int index, double steps)
    {
        if (index >= _nodeSteps.Length || _nodePriced[index])
        {
            return;
        }

        _nodePriced[index] = true;
        _nodeSteps[index] = steps;
        _stepsPriced += steps;
        _nodesPriced++;
        _stepsGuess = _stepsPriced / _nodesPriced;
        for (var i = 0; i < _nodeSteps.Length; i++)
        {
            if (!_nodePriced[i])
            {
                _nodeSteps[i] = _stepsGuess;
            }
        }
    }

    private void NodeStep(int index)
    {
        if (index < _nodeSteps.Length)
        {
            _stepsDone++;
        }
    }

    private PlanProgress WithWork(PlanProgress progress)
    {
        var total = _nodeSteps.Sum();
        return progress.Phase is PlanPhase.Ladder or PlanPhase.Sensitivity or PlanPhase.Latency && total > 0
            ? progress with { WorkDone = Math.Min(total, _stepsDone), WorkTotal = total }
            : progress;
    }
}
