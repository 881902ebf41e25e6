using Microsoft.ML.OnnxRuntime;
using OnnxFactorize.Calibration;
using TensorData = OnnxFactorize.Validation.TensorData;

namespace OnnxFactorize.Tests.Calibration;

public class CalibrationStoreTests
{
    private static TensorData[] Sample(int s) =>
    [
        TensorData.Create("x", [1, 256], Enumerable.Range(0, 256).Select(i => (float)(s * 1000 + i)).ToArray()),
        TensorData.Create("ids", [2], new long[] { s, -s }),
        TensorData.Create("h", [3], new[] { Half16(s), Half16(0.5f), Half16(-s) }),
    ];

    private static Float16 Half16(float v) => new(BitConverter.HalfToUInt16Bits((Half)v));

    [Theory]
    [InlineData(16)]
    [InlineData(256)]
    public void Memory_held_stays_within_the_limit_whatever_the_number_of_samples(int count)
    {
        using var store = new CalibrationStore(memoryLimitBytes: 8 * 1024);
        for (var s = 0; s < count; s++)
        {
            store.Add(Sample(s));
            Assert.True(store.ResidentBytes <= store.MemoryLimitBytes, $"{store.ResidentBytes} bytes held after {s + 1} samples");
        }

        Assert.Equal(count, store.Count);
        Assert.True(store.OnDisk);
        Assert.Equal(0, store.ResidentBytes);
    }

    [Fact]
    public void Entries_read_back_from_disk_equal_what_was_added_in_order()
    {
        using var store = new CalibrationStore(memoryLimitBytes: 0);
        for (var s = 0; s < 20; s++)
        {
            store.Add(Sample(s));
        }

        var s2 = 0;
        foreach (var entry in store.Read())
        {
            var expected = Sample(s2++);
            Assert.Equal(expected.Length, entry.Count);
            foreach (var (a, b) in expected.Zip(entry))
            {
                Assert.Equal(a.Name, b.Name);
                Assert.Equal(a.ElementType, b.ElementType);
                Assert.Equal(a.Shape, b.Shape);
                Assert.Equal(a.ToDoubles(), b.ToDoubles());
            }
        }

        Assert.Equal(20, s2);
        Assert.Equal(Sample(7)[0].ToDoubles(), store[7][0].ToDoubles());
    }

    [Fact]
    public void A_store_under_its_limit_keeps_its_entries_in_memory()
    {
        using var store = new CalibrationStore(memoryLimitBytes: 1 << 20);
        store.Add(Sample(1));
        store.Add(Sample(2));

        Assert.False(store.OnDisk);
        Assert.Equal(2 * ((256 * 4) + (2 * 8) + (3 * 2)), store.ResidentBytes);
        Assert.Equal(Sample(2)[1].ToDoubles(), store.Read().Last()[1].ToDoubles());
    }
}
