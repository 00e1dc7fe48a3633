using SplitEmu.DeviceHost.Hosting;
using SplitEmu.Shared.Timing;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Hosting;

/// <summary>
/// The timers of a device process: the watcher wakes the serving thread when a deadline passes, and the serving
/// thread takes exactly the due devices. Bounds are generous (the machine is shared); nothing here times speed.
/// </summary>
public sealed class DeviceTimersTests
{
    private static readonly TimeSpan s_bound = TestDeadlines.Seconds(10);

    [Fact]
    public void ArmedDeadline_WakesTheServer_AndOnlyThatDeviceIsDue()
    {
        using SemaphoreSlim woken = new(0);
        using DeviceTimers timers = new(3, () => woken.Release(), MachineClock.Host);

        long deadline = MachineClock.Host.NowNanoseconds + 5_000_000;
        timers.Arm(1, deadline);
        timers.Arm(2, MachineClock.Host.NowNanoseconds + 3_600_000_000_000); // an hour away

        Assert.True(woken.Wait(s_bound), "the watcher never woke the server");
        Span<int> due = stackalloc int[3];
        int count = timers.TakeDue(Math.Max(deadline, MachineClock.Host.NowNanoseconds), due);
        Assert.Equal(1, count);
        Assert.Equal(1, due[0]);
        Assert.Equal(0, timers.TakeDue(MachineClock.Host.NowNanoseconds, due)); // taken once, disarmed
    }

    [Fact]
    public void DisarmedTimer_NeverComesDue()
    {
        int wakes = 0;
        using DeviceTimers timers = new(1, () => Interlocked.Increment(ref wakes), MachineClock.Host);
        long deadline = MachineClock.Host.NowNanoseconds + 3_600_000_000_000;
        timers.Arm(0, deadline);
        timers.Disarm(0);

        // Asked at the deadline itself: a disarmed timer is not due then either.
        Span<int> due = stackalloc int[1];
        Assert.Equal(0, timers.TakeDue(deadline, due));
        Assert.Equal(0, Volatile.Read(ref wakes));
    }

    [Fact]
    public void DeadlineInThePast_IsDueAtOnce_AndRearmingReplacesIt()
    {
        using SemaphoreSlim woken = new(0);
        using DeviceTimers timers = new(1, () => woken.Release(), MachineClock.Host);
        timers.Arm(0, MachineClock.Host.NowNanoseconds + 3_600_000_000_000);
        timers.Arm(0, MachineClock.Host.NowNanoseconds - 1);

        Assert.True(woken.Wait(s_bound), "a past deadline must wake the server");
        Span<int> due = stackalloc int[1];
        Assert.Equal(1, timers.TakeDue(MachineClock.Host.NowNanoseconds, due));
    }
}
