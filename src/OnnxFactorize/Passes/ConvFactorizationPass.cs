using OnnxFactorize.Graph;

namespace OnnxFactorize.Passes;

/// <summary>Matches Conv nodes with a constant kernel and chooses, per node, among the methods allowed by
/// <see cref="FactorizeOptions.Methods"/> (svd = 1×1 SVD, tucker2, spatial-svd, depthwise); with auto, every applicable
/// method is held to the same weight error and the one with the fewest FLOPs is emitted. Conv3d and grouped convs are skipped.</summary>
public sealed class ConvFactorizationPass : IFactorizationPass
{
    private readonly ConvMethodPass[] _methods;

    /// <summary>Creates the dispatcher over the four methods; <paramref name="tucker2"/> replaces the default Tucker-2 pass (e.g. with EVBMF ranks).</summary>
    public ConvFactorizationPass(ConvTucker2Pass? tucker2 = null)
    {
        _methods = [tucker2 ?? new ConvTucker2Pass(), new ConvSpatialSvdPass(), new ConvDepthwiseSeparablePass(), new ConvPointwiseSvdPass()];
    }

    /// <inheritdoc/>
    public string OpType => "Conv";

    /// <inheritdoc/>
    public FactorizationDecision Apply(Node node, PassContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var names = context.Options.Methods;
        var auto = names.Contains("auto", StringComparer.Ordinal);
        var methods = auto ? _methods : _methods.Where(m => names.Contains(m.Method, StringComparer.Ordinal)).ToArray();
        return Decide(node, context, methods, auto, requireSavings: true);
    }

    /// <summary>Selects (cheap checks first), plans every method, then emits the cheapest candidate or leaves the node untouched.</summary>
    internal static FactorizationDecision Decide(Node node, PassContext context, IReadOnlyList<ConvMethodPass> methods, bool auto, bool requireSavings)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(context);
        var label = PassContext.Label(node);
        var onlyMethod = methods.Count == 1 ? methods[0].Method : "";
        FactorizationDecision Skip(string reason, IReadOnlyList<long>? shape = null) => PassContext.Skipped(node, onlyMethod, reason, shape);

        if (node.Inputs.Count < 2 || node.Inputs[0] is null || node.Inputs[1] is null)
        {
            return Skip("Conv needs inputs X and W");
        }

        if (PassContext.ConstantTensor(node.Inputs[1]!) is null)
        {
            return Skip($"weight '{node.Inputs[1]!.Name}' is computed at run time, not a constant");
        }

        var shape = PassContext.ShapeOf(node.Inputs[1]!)!;
        var geometry = ConvGeometry.Parse(node, shape, out var reason);
        if (geometry is null)
        {
            return Skip(reason, shape);
        }

        if (geometry.SpatialRank > 2)
        {
            return Skip($"Conv{geometry.SpatialRank}d is not factorized (Conv1d and Conv2d are)", shape);
        }

        if (geometry.Group > 1)
        {
            return Skip(geometry.InPerGroup == 1
                ? $"depthwise conv (group = C_in = {geometry.Group}): each filter sees one channel, nothing to factorize"
                : $"grouped conv (group = {geometry.Group}) is not factorized; only group = 1", shape);
        }

        var readError = context.TryReadWeight(node, 1, out var weight, out var values);
        if (readError is not null)
        {
            return Skip(readError, shape);
        }

        var subject = new ConvSubject(node, context, weight!, values, geometry);
        var flopsBefore = subject.FlopsBefore;
        FactorizationDecision SkipCounted(string why) => Skip(why, shape) with
        {
            ParamsBefore = subject.ParamsBefore,
            ParamsAfter = subject.ParamsBefore,
            FlopsBefore = flopsBefore,
            FlopsAfter = flopsBefore,
        };

        var applicable = methods.Where(m => m.Unsupported(geometry) is null).ToList();
        if (applicable.Count == 0)
        {
            return SkipCounted(string.Join("; ", methods.Select(m => m.Unsupported(geometry))));
        }

        var target = auto ? AutoTarget(subject) : new ConvTarget(context.PolicyFor(node), null);
        var candidates = new List<ConvCandidate>();
        var rejected = new List<string>();
        foreach (var method in applicable)
        {
            var candidate = method.Plan(subject, target, requireSavings, out var planReason);
            if (candidate is null)
            {
                rejected.Add(planReason);
            }
            else if (requireSavings && (candidate.ParamsAfter >= subject.ParamsBefore || candidate.FlopsAfter >= flopsBefore))
            {
                rejected.Add($"{candidate.Method}: rank {candidate.Rank} gives {candidate.ParamsAfter} parameters / {candidate.FlopsAfter} FLOPs, " +
                    $"not below {subject.ParamsBefore} / {flopsBefore} (break-even rank {candidate.BreakEvenRank})");
            }
            else
            {
                candidates.Add(candidate);
            }
        }

        if (candidates.Count == 0)
        {
            return SkipCounted(string.Join("; ", rejected));
        }

        var chosen = candidates.OrderBy(c => c.FlopsAfter).ThenBy(c => c.ParamsAfter).First();
        var last = chosen.Emit(subject);
        node.Graph.TransferOutput(node, 0, last, 0);
        var why = chosen.Reason;
        if (candidates.Count + rejected.Count > 1)
        {
            var others = candidates.Where(c => c != chosen).Select(c => $"{c.Method} {c.FlopsAfter} FLOPs (error {c.RelativeError:G3})").Concat(rejected);
            var goal = target.MaxError is { } e ? $"every method held to weight error ≤ {e:G4}; " : "";
            why = $"{goal}chose {chosen.Method} at {chosen.FlopsAfter} FLOPs (error {chosen.RelativeError:G3}), the fewest; others: {string.Join("; ", others)}. {chosen.Reason}";
        }

        if (!geometry.HasStaticShapes)
        {
            why += " FLOPs are per output position (spatial size unknown).";
        }

        return new FactorizationDecision
        {
            NodeName = label,
            OpType = "Conv",
            GraphPath = node.Graph.Path,
            Method = chosen.Method,
            Status = DecisionStatus.Factorized,
            Reason = why,
            WeightShape = shape,
            Rank = chosen.Rank,
            Ranks = chosen.Ranks,
            BreakEvenRank = chosen.BreakEvenRank,
            ParamsBefore = subject.ParamsBefore,
            ParamsAfter = chosen.ParamsAfter,
            FlopsBefore = flopsBefore,
            FlopsAfter = chosen.FlopsAfter,
            WeightRelError = chosen.RelativeError,
            SingularValues = chosen.SingularValues,
        };
    }

    // The weight error "equivalent to the policy": √(1 − e) for energy e; otherwise the error the policy gives the kernel
    // viewed as a C_out×(C_in·Πk) matrix, so every method is held to the same accuracy and only cost decides.
    private static ConvTarget AutoTarget(ConvSubject subject)
    {
        var policy = subject.Context.PolicyFor(subject.Node);
        if (policy.EnergyFraction is { } energy)
        {
            return ConvTarget.ForError(Math.Sqrt(Math.Max(0, 1 - energy)));
        }

        var g = subject.Geometry;
        int rows = g.OutChannels, cols = g.InPerGroup * g.KernelSize;
        var needed = Math.Clamp(policy.RequiredSingularValues(rows, cols), 1, Math.Min(rows, cols));
        var svd = subject.Context.Svd(subject.Weight, subject.Values, rows, cols, transposed: false, needed);
        var rank = Math.Clamp(policy.SelectRank(svd.S, svd.FrobeniusNormSquared, rows, cols), 1, svd.Rank);
        return ConvTarget.ForError(svd.RelativeError(rank));
    }
}
