using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// The machine clock on the remote host. Host clocks of two machines do not agree, so the bridge stamps every frame
/// with the machine time it was sent at; the remote ring's clock runs from the last stamp on this host's clock, at most
/// <see cref="LeadNanoseconds"/> past it (the bridge stamps more often than that), and never backwards.
/// </summary>
internal sealed unsafe class RemoteClockMirror
{
    /// <summary>How far past the last stamp the remote clock may run; two of the bridge's heartbeats.</summary>
    public const long LeadNanoseconds = 2 * RemoteDataLink.BridgeHeartbeatMilliseconds * 1_000_000L;

    private readonly Lock _gate = new();
    private RingSegment? _segment;
    private long _lastStamp;

    /// <summary>Keeps <paramref name="segment"/>'s clock area in step from now on (it starts at the last stamp).</summary>
    public void Mirror(RingSegment segment)
    {
        lock (_gate)
        {
            _segment = segment;
            Write(segment, _lastStamp, HostClock.NowNanoseconds, LeadNanoseconds);
        }
    }

    /// <summary>The machine time was <paramref name="machineTime"/> when the bridge sent its frame.</summary>
    public void Stamp(long machineTime)
    {
        lock (_gate)
        {
            long host = HostClock.NowNanoseconds;
            if (_segment is { } segment)
            {
                // A clock that ran past the machine's while no stamp came (the machine stood still) waits for it.
                long now = MachineClockArea.Now(segment.At(SegmentLayout.MachineClockOffset));
                Write(segment, Math.Max(machineTime, now), host, now > machineTime ? 0 : LeadNanoseconds);
            }

            _lastStamp = Math.Max(_lastStamp, machineTime);
        }
    }

    private static void Write(RingSegment segment, long machineTime, long host, long lead)
    {
        byte* area = segment.At(SegmentLayout.MachineClockOffset);
        MachineClockArea.BeginWrite(area);
        MachineClockArea.EndWrite(area, host - machineTime, host + lead);
    }
}
