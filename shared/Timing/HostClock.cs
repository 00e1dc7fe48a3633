using System.Diagnostics;

namespace SplitEmu.Shared.Timing;

/// <summary>
/// The host's monotonic clock (CLOCK_MONOTONIC under Stopwatch on Linux) in nanoseconds: the same in every
/// process of this host, never set back. The machine clock (<see cref="MachineClock"/>) is made from it.
/// </summary>
public static class HostClock
{
    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    /// <summary>Now, in nanoseconds.</summary>
    public static long NowNanoseconds =>
        Stopwatch.Frequency == 1_000_000_000 ? Stopwatch.GetTimestamp() : (long)(Stopwatch.GetTimestamp() * s_nanosecondsPerTick);
}
