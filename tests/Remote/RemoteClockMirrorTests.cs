using SplitEmu.Launch.Remote;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Remote;

/// <summary>The machine clock on a remote host: it follows the bridge's stamps, never runs far past them, never goes back.</summary>
public sealed class RemoteClockMirrorTests : IDisposable
{
    private readonly RingSegment _segment = RingSegment.Create($"splitemu-test-clock-{Environment.ProcessId}", RingGeometry.Default, 1);

    public void Dispose() => _segment.Dispose();

    [Fact]
    public void TheClock_StartsAtTheLastStamp_AndStaysWithinTheLeadOfIt()
    {
        RemoteClockMirror mirror = new();
        mirror.Stamp(5_000_000_000);
        mirror.Mirror(_segment);
        MachineClock clock = MachineClock.Of(_segment);

        long now = clock.NowNanoseconds;
        Assert.InRange(now, 5_000_000_000, 5_000_000_000 + RemoteClockMirror.LeadNanoseconds);
        Thread.Sleep(TimeSpan.FromTicks(RemoteClockMirror.LeadNanoseconds / 100 * 3)); // three leads: no stamp came meanwhile
        Assert.InRange(clock.NowNanoseconds, now, 5_000_000_000 + RemoteClockMirror.LeadNanoseconds);
    }

    [Fact]
    public void AnOlderStamp_NeverTurnsTheClockBack()
    {
        RemoteClockMirror mirror = new();
        mirror.Mirror(_segment);
        mirror.Stamp(9_000_000_000);
        MachineClock clock = MachineClock.Of(_segment);
        long before = clock.NowNanoseconds;

        mirror.Stamp(8_000_000_000);

        Assert.True(clock.NowNanoseconds >= before, $"{clock.NowNanoseconds} < {before}");
        mirror.Stamp(12_000_000_000);
        Assert.InRange(clock.NowNanoseconds, 12_000_000_000, 12_000_000_000 + RemoteClockMirror.LeadNanoseconds);
    }
}
