namespace OnnxFactorize.MSBuild.Tests;

public sealed class BuildAdviceTests
{
    private const string Cli =
        "advice: little was factorized at energy 0.99 (trained and random weights have flat spectra); --rank-ratio 0.5 would factorize 3 node(s) and cut " +
        "the candidates' FLOPs by 40 % (weight error up to 0.3); --rank-ratio 0.25 would factorize 3 node(s) and cut the candidates' FLOPs by 70 % " +
        "(weight error up to 0.5). Let accuracy decide: onnx-factorize optimize /app/Models/m.onnx -o /app/obj/m.onnx --max-error 0.02 --validate " +
        "(ranks measured in ONNX Runtime), or onnx-factorize analyze /app/Models/m.onnx for every node's spectrum.";

    [Fact]
    public void The_tools_advice_is_worded_in_metadata_for_the_build()
    {
        var advice = BuildAdvice.From(["onnx-factorize: something", "  " + Cli, "summary"]);
        Assert.Equal(
            "little was factorized at energy 0.99 (trained and random weights have flat spectra); RankRatio=\"0.5\" would factorize 3 node(s) and cut " +
            "the candidates' FLOPs by 40 % (weight error up to 0.3); RankRatio=\"0.25\" would factorize 3 node(s) and cut the candidates' FLOPs by 70 % " +
            "(weight error up to 0.5). Let accuracy decide: set MaxError=\"0.02\" on the item (ranks measured in ONNX Runtime), " +
            "or run onnx-factorize analyze on the model for every node's spectrum.",
            advice);
    }

    [Fact]
    public void No_advice_line_means_no_advice()
    {
        Assert.Null(BuildAdvice.From(["note: FLOPs use declared shapes only", "m.onnx -> out.onnx: 4 of 5 node(s) factorized"]));
    }
}
