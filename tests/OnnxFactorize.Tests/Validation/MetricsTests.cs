using OnnxFactorize.Validation;

namespace OnnxFactorize.Tests.Validation;

public class MetricsTests
{
    [Fact]
    public void Error_metrics_match_hand_computed_values()
    {
        var acc = new MetricsAccumulator("y");
        acc.Add([4], [1, 2, 3, 4], [1, 2, 3, 5], floatingPoint: false);
        var m = acc.ToMetrics();

        Assert.Equal(1.0, m.MaxAbsError, 12);
        Assert.Equal(0.25, m.MeanAbsError, 12);
        Assert.Equal(1 / Math.Sqrt(30), m.RelL2Error, 12);
        Assert.Equal(34 / Math.Sqrt(30 * 39), m.Cosine, 12);
        Assert.Null(m.Classification);
    }

    [Fact]
    public void Metrics_aggregate_over_samples_as_one_concatenated_vector()
    {
        var acc = new MetricsAccumulator("y");
        acc.Add([2], [1, 2], [1, 2], floatingPoint: false);
        acc.Add([2], [3, 4], [3, 5], floatingPoint: false);
        var m = acc.ToMetrics();

        Assert.Equal(4, m.ElementCount);
        Assert.Equal(0.25, m.MeanAbsError, 12);
        Assert.Equal(1 / Math.Sqrt(30), m.RelL2Error, 12);
    }

    [Fact]
    public void Non_finite_values_are_counted_and_kept_out_of_the_sums()
    {
        var acc = new MetricsAccumulator("y");
        acc.Add([3], [1, double.NaN, 2], [1, 5, double.PositiveInfinity], floatingPoint: true);
        var m = acc.ToMetrics();

        Assert.Equal(1, m.NonFiniteOriginal);
        Assert.Equal(1, m.NonFiniteOptimized);
        Assert.Equal(0, m.MaxAbsError);
        Assert.Equal(0, m.RelL2Error);
    }

    [Fact]
    public void Zero_reference_gives_infinite_relative_error_unless_both_are_zero()
    {
        var same = new MetricsAccumulator("y");
        same.Add([2], [0, 0], [0, 0], false);
        Assert.Equal(0, same.ToMetrics().RelL2Error);
        Assert.Equal(1, same.ToMetrics().Cosine);

        var differ = new MetricsAccumulator("y");
        differ.Add([2], [0, 0], [0, 1], false);
        Assert.Equal(double.PositiveInfinity, differ.ToMetrics().RelL2Error);
    }

    [Fact]
    public void Top1_agreement_and_label_accuracy_are_counted_per_row()
    {
        var acc = new MetricsAccumulator("logits");
        double[] a = [0.1, 0.9, 0.0, /**/ 0.5, 0.2, 0.3];
        double[] b = [0.2, 0.8, 0.0, /**/ 0.1, 0.7, 0.2];
        acc.Add([2, 3], a, b, floatingPoint: true, labels: [1, 1]);
        acc.Add([2, 3], a, a, floatingPoint: true, labels: [0, 0]);
        var c = acc.ToMetrics().Classification!;

        Assert.Equal(4, c.Rows);
        Assert.Equal(0.75, c.Top1Agreement, 12);
        Assert.Equal(0.5, c.OriginalAccuracy!.Value, 12);   // argmax 1,0 | 1,0 against labels 1,1 | 0,0: hit, miss, miss, hit
        Assert.Equal(0.75, c.OptimizedAccuracy!.Value, 12); // argmax 1,1 | 1,0: hit, hit, miss, hit
        Assert.Equal(-25.0, c.AccuracyDropPoints!.Value, 9);
    }

    [Fact]
    public void Accuracy_drop_is_in_percentage_points()
    {
        var acc = new MetricsAccumulator("logits");
        acc.Add([2, 2], [1, 0, 1, 0], [1, 0, 0, 1], floatingPoint: true, labels: [0, 0]);
        var c = acc.ToMetrics().Classification!;

        Assert.Equal(1.0, c.OriginalAccuracy);
        Assert.Equal(0.5, c.OptimizedAccuracy);
        Assert.Equal(50.0, c.AccuracyDropPoints!.Value, 9);
    }

    [Fact]
    public void Outputs_whose_last_dim_is_one_are_not_class_scores()
    {
        var acc = new MetricsAccumulator("y");
        acc.Add([2, 1], [1, 2], [1, 2], floatingPoint: true);
        Assert.Null(acc.ToMetrics().Classification);
    }
}
