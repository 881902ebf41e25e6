using BenchmarkDotNet.Running;
using OnnxFactorize.Benchmarks;

// Custom modes first; everything else goes to BenchmarkDotNet (e.g. --filter '*Svd*').
if (args.Length > 0 && args[0] == "svd-compare")
{
    return SvdCompare.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "tucker-compare")
{
    return TuckerCompare.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "tucker-profile")
{
    return TuckerProfile.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "rule-profile")
{
    return RuleProfile.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "budget-table")
{
    return BudgetBench.Table(args[1..]);
}

if (args.Length > 0 && args[0] == "budget-ladders")
{
    return BudgetBench.Ladders(args[1..]);
}

if (args.Length > 0 && args[0] == "budget-search")
{
    return BudgetBench.Search(args[1..]);
}

if (args.Length > 0 && args[0] == "budget-vs-aimet")
{
    return BudgetBench.VersusAimet(args[1..]);
}

if (args.Length > 0 && args[0] == "digits-whitening")
{
    return DigitsWhitening.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "gemm")
{
    return GemmProbe.Run(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(SvdBenchmarks).Assembly).Run(args);
return 0;
