using System.Diagnostics;

namespace SplitEmu.Launch.Bench;

/// <summary>Latency samples of one benchmark row (Stopwatch ticks), and their summary.</summary>
public sealed class LatencySamples
{
    private readonly long[] _ticks;
    private int _count;

    /// <summary>Room for <paramref name="capacity"/> samples (allocated up front: no allocation while measuring).</summary>
    public LatencySamples(int capacity) => _ticks = new long[Math.Max(1, capacity)];

    /// <summary>Adds one sample (ignored when full).</summary>
    public void Add(long ticks)
    {
        if (_count < _ticks.Length)
        {
            _ticks[_count++] = ticks;
        }
    }

    /// <summary>Percentile <paramref name="p"/> (0-100) in microseconds, each sample divided by <paramref name="perSample"/>.</summary>
    public double PercentileMicroseconds(double p, int perSample = 1)
    {
        if (_count == 0)
        {
            return double.NaN;
        }

        Span<long> sorted = _ticks.AsSpan(0, _count);
        sorted.Sort();
        int index = Math.Clamp((int)Math.Ceiling(p / 100 * _count) - 1, 0, _count - 1);
        return sorted[index] * 1e6 / Stopwatch.Frequency / perSample;
    }
}
