namespace OnnxFactorize.Graph.LayeringFixture;

/// <summary>A deliberate backwards use (Graph → Passes) inside a method body, for the layering test to catch.</summary>
internal static class BackwardsUse
{
    public static string Label() => OnnxFactorize.Passes.Factorizer.DefaultRules[0].Method;
}
