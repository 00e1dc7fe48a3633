using System.Diagnostics;

namespace SplitEmu.Shared.Timing;

/// <summary>
/// The machine clock: nanoseconds of the host's monotonic clock (CLOCK_MONOTONIC under Stopwatch on Linux), so
/// a timer device in a device process and the CPU process read the same time without talking to each other.
/// </summary>
public static class MachineClock
{
    private static readonly double s_nanosecondsPerTick = 1e9 / Stopwatch.Frequency;

    /// <summary>Now, in nanoseconds.</summary>
    public static long NowNanoseconds =>
        Stopwatch.Frequency == 1_000_000_000 ? Stopwatch.GetTimestamp() : (long)(Stopwatch.GetTimestamp() * s_nanosecondsPerTick);
}
