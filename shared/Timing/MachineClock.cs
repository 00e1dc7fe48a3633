using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Timing;

/// <summary>
/// The machine clock: the nanoseconds every guest-visible time is made of (the TSC, the PIT, the RTC, device
/// timers), the same in every process of a machine. It is the host's monotonic clock minus every interval in
/// which the machine stood still: while the vCPU is stalled on a dead device waiting for its successor, or
/// paused by the monitor, the clock stops, so the guest never sees our outages as elapsed time. Read without a
/// lock or syscall from a <see cref="MachineClockArea"/> that the CPU process publishes (see docs/machine-clock.md).
/// </summary>
public sealed unsafe class MachineClock
{
    private readonly byte* _area;

    /// <summary>What holds the area's memory, kept alive as long as this clock.</summary>
    private readonly object? _owner;

    private MachineClock(byte* area, object? owner)
    {
        _area = area;
        _owner = owner;
    }

    /// <summary>A clock that never stops: the host's (for device processes without a segment, and tools).</summary>
    public static MachineClock Host { get; } = new((byte*)NativeMemory.AllocZeroed(MachineClockArea.Size), null);

    /// <summary>Now, in nanoseconds.</summary>
    public long NowNanoseconds
    {
        get
        {
            long now = MachineClockArea.Now(_area);
            GC.KeepAlive(_owner);
            return now;
        }
    }

    /// <summary>The clock the CPU process publishes in <paramref name="segment"/> (a device process's view; valid while it is mapped).</summary>
    public static MachineClock Of(Transport.RingSegment segment) => new(segment.At(Transport.SegmentLayout.MachineClockOffset), segment);

    /// <summary>The clock published in <paramref name="area"/>, which must stay mapped while the clock is read
    /// (<paramref name="keepAlive"/>: a pinned array holding it, kept alive with the clock).</summary>
    public static MachineClock Over(byte* area, object? keepAlive = null) => new(area, keepAlive);
}
