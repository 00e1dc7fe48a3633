using System.Runtime.CompilerServices;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Shared.Timing;

/// <summary>
/// The CPU process's side of the machine clock, its one writer: stops it while the machine stands still (a vCPU
/// stalled on a dead device, the monitor's pause) and starts it again behind the host clock by the time it
/// stood, and publishes each change to the CPU process's own readers and to every device process's segment
/// (mirrors). Stops nest: the clock runs again when the last one ends. See docs/machine-clock.md.
/// </summary>
public sealed unsafe class MachineClockSource
{
    private readonly Lock _gate = new();
    private readonly byte[] _ownArea = GC.AllocateArray<byte>(MachineClockArea.Size, pinned: true);
    private readonly byte* _own;
    private readonly List<nint> _mirrors = [];
    private long _behind;
    private long _stoppedAt;
    private int _stops;

    public MachineClockSource()
    {
        _own = (byte*)Unsafe.AsPointer(ref _ownArea[0]);
        Clock = MachineClock.Over(_own, keepAlive: _ownArea);
    }

    /// <summary>The machine clock, as this process reads it.</summary>
    public MachineClock Clock { get; }

    /// <summary>Nanoseconds the clock has stood still so far (stops that have ended).</summary>
    public long StoppedNanoseconds
    {
        get
        {
            lock (_gate)
            {
                return _behind;
            }
        }
    }

    /// <summary>Stops the clock until the returned scope is disposed.</summary>
    public StopScope Stop()
    {
        lock (_gate)
        {
            if (_stops++ == 0)
            {
                BeginPublishing();
                _stoppedAt = Math.Max(1, HostClock.NowNanoseconds); // 0 means "running" in the published area
                EndPublishing();
            }
        }

        return new StopScope(this);
    }

    /// <summary>Publishes the clock into <paramref name="segment"/> from now on (a new segment, before its device process maps it).</summary>
    public void Mirror(RingSegment segment)
    {
        lock (_gate)
        {
            byte* area = segment.At(SegmentLayout.MachineClockOffset);
            _mirrors.Add((nint)area);
            MachineClockArea.BeginWrite(area);
            MachineClockArea.EndWrite(area, _behind, _stoppedAt);
        }
    }

    /// <summary>Stops publishing into <paramref name="segment"/> (before it is unmapped).</summary>
    public void Forget(RingSegment segment)
    {
        lock (_gate)
        {
            _mirrors.Remove((nint)segment.At(SegmentLayout.MachineClockOffset));
        }
    }

    private void Start()
    {
        lock (_gate)
        {
            if (--_stops == 0)
            {
                BeginPublishing();
                _behind += HostClock.NowNanoseconds - _stoppedAt;
                _stoppedAt = 0;
                EndPublishing();
            }
        }
    }

    /// <summary>Holds every reader off; the host time for the new state is sampled after this.</summary>
    private void BeginPublishing()
    {
        MachineClockArea.BeginWrite(_own);
        foreach (nint mirror in _mirrors)
        {
            MachineClockArea.BeginWrite((byte*)mirror);
        }
    }

    private void EndPublishing()
    {
        MachineClockArea.EndWrite(_own, _behind, _stoppedAt);
        foreach (nint mirror in _mirrors)
        {
            MachineClockArea.EndWrite((byte*)mirror, _behind, _stoppedAt);
        }
    }

    /// <summary>A stop of the clock; disposing it starts the clock again (once).</summary>
    public struct StopScope(MachineClockSource source) : IDisposable
    {
        private MachineClockSource? _source = source;

        /// <inheritdoc/>
        public void Dispose()
        {
            _source?.Start();
            _source = null;
        }
    }
}
