using OnnxFactorize.Decomposition;

namespace OnnxFactorize.Tests.Decomposition;

public class GramAccumulatorTests
{
    [Fact]
    public void Streaming_in_uneven_batches_gives_the_gram_mean_and_count_of_all_rows()
    {
        const int D = 37;
        const int N = 700;
        var x = Matrices.Gaussian(N, D, seed: 1);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] += 0.5f;
        }

        var stats = new GramAccumulator(D);
        var at = 0;
        foreach (var rows in new[] { 1, 300, 299, 100 })
        {
            stats.AddRows(x.AsSpan(at * D, rows * D));
            at += rows;
        }

        var reference = Matrices.NaiveProduct(x, D, N, x, D, transA: true);
        var gram = stats.Gram();
        Assert.Equal(N, stats.Count);
        for (var i = 0; i < gram.Length; i++)
        {
            Assert.True(Math.Abs(gram[i] - reference[i]) <= 1e-5 * (1 + Math.Abs(reference[i])), $"entry {i}: {gram[i]} vs {reference[i]}");
        }

        var mean = stats.Mean();
        var centered = stats.CenteredGram();
        for (var j = 0; j < D; j++)
        {
            var m = Enumerable.Range(0, N).Sum(t => (double)x[t * D + j]) / N;
            Assert.Equal(m, mean[j], 6);
            var variance = Enumerable.Range(0, N).Sum(t => (x[t * D + j] - m) * (x[t * D + j] - m));
            Assert.True(Math.Abs(centered[j * D + j] - variance) <= 1e-4 * variance, $"variance {j}");
        }
    }

    [Fact]
    public void A_partial_row_is_refused()
    {
        var stats = new GramAccumulator(4);
        Assert.Throws<ArgumentException>(() => stats.AddRows(new float[6]));
    }
}
