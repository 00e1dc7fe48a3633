using System.Runtime.CompilerServices;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Shared.Timing;

/// <summary>
/// The CPU process's side of the machine clock, its one writer: stops it while the machine stands still (a vCPU
/// stalled on a dead device, the monitor's pause) and starts it again behind the host clock by the time it
/// stood, and publishes each change to the CPU process's own readers and to every device process's segment
/// (mirrors). Stops nest: the clock runs again when the last one ends.
/// </summary>
/// <remarks>
/// Once the vCPU has checked in (<see cref="CheckIn"/>), the clock also keeps pace with it: it runs at most
/// <see cref="MaxLeadNanoseconds"/> past the vCPU's last check-in and holds there until the next one, so a vCPU
/// blocked on a slow device or taken off its core does not find several timer periods gone when it comes back
/// (interrupts it could not take merged into one). In HLT the vCPU waits for time to pass: <see cref="ReleaseLead"/>.
/// See docs/machine-clock.md.
/// </remarks>
public sealed unsafe class MachineClockSource
{
    private readonly Lock _gate = new();
    private readonly byte[] _ownArea = GC.AllocateArray<byte>(MachineClockArea.Size, pinned: true);
    private readonly byte* _own;
    private readonly List<nint> _mirrors = [];
    private long _behind;
    private long _stoppedAt;
    private int _stops;

    /// <summary>Host time the clock holds at unless the vCPU checks in first; 0 while it has no lead to keep.</summary>
    private long _leadUntil;

    /// <summary>The managed id of the thread whose progress the clock keeps pace with; 0: any caller's.</summary>
    private int _paceThread;

    public MachineClockSource()
    {
        _own = (byte*)Unsafe.AsPointer(ref _ownArea[0]);
        Clock = MachineClock.Over(_own, keepAlive: _ownArea);
    }

    /// <summary>The machine clock, as this process reads it.</summary>
    public MachineClock Clock { get; }

    /// <summary>
    /// Makes the calling thread the one the clock keeps pace with (the bootstrap processor's): from now on
    /// <see cref="CheckIn"/> and <see cref="HoldForAccess"/> from any other thread (another vCPU waiting for a device)
    /// change nothing. With several vCPUs, one pace is the only consistent one: the bootstrap processor runs the
    /// machine's timers, and an application processor's check-ins would hold time back while it sleeps in HLT.
    /// </summary>
    public void KeepPaceWithThisThread() => Volatile.Write(ref _paceThread, Environment.CurrentManagedThreadId);

    private bool IsPaceKeeper => _paceThread == 0 || _paceThread == Environment.CurrentManagedThreadId;

    /// <summary>
    /// How far the clock may run past the vCPU's last check-in: under one period of the fastest tick a guest of
    /// ours programs (Linux's 250 Hz, 4 ms), so no two ticks come while the vCPU cannot take one; and two leads
    /// under the 2.5 ms (5% of 50 ms) by which Linux lets a PIT-timed interval of the PM timer miss, since a
    /// polling loop that ends an interval can lose one lead before its last poll and one after it.
    /// </summary>
    public const long MaxLeadNanoseconds = 1_000_000;

    /// <summary>Nanoseconds the clock has stood still so far (stops that have ended, and holds for the vCPU).</summary>
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
                long now = HostClock.NowNanoseconds;
                _stoppedAt = Math.Max(1, _leadUntil != 0 ? Math.Min(now, _leadUntil) : now); // 0 means "running" in the published area
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
            MachineClockArea.EndWrite(area, _behind, HoldAt);
        }
    }

    /// <summary>
    /// The vCPU made progress (a run slice ended, a device answered): the clock may run on to
    /// <see cref="MaxLeadNanoseconds"/> from now, and time it held for the vCPU since the last check-in is taken
    /// out. Cheap when the last check-in is recent (one host clock read); called by the vCPU thread.
    /// </summary>
    public void CheckIn()
    {
        if (!IsPaceKeeper || HostClock.NowNanoseconds < Volatile.Read(ref _leadUntil) - MaxLeadNanoseconds / 2)
        {
            return;
        }

        lock (_gate)
        {
            if (_stops > 0)
            {
                return; // standing still: the start gives the lead back
            }

            BeginPublishing();
            long now = HostClock.NowNanoseconds;
            EndHold(now);
            Volatile.Write(ref _leadUntil, now + MaxLeadNanoseconds);
            EndPublishing();
        }
    }

    /// <summary>
    /// How far the clock may run while the vCPU waits for one device's answer: a port or MMIO access takes well under
    /// a microsecond on hardware, and a guest that times a few of them (Linux's clocksource watchdog reads the PIT
    /// three times and wants the reads within 100 us) must not see the host's scheduling of a device process.
    /// </summary>
    public const long AccessLeadNanoseconds = 20_000;

    /// <summary>
    /// The vCPU is about to wait for a device's answer: until its next <see cref="CheckIn"/>, the clock runs at most
    /// <see cref="AccessLeadNanoseconds"/> past now, and the time it then holds is taken out like any hold. Only ever
    /// shortens the lead, so no reader's time goes back. Called by the vCPU thread.
    /// </summary>
    public void HoldForAccess()
    {
        long until = Volatile.Read(ref _leadUntil);
        if (until == 0 || until <= HostClock.NowNanoseconds + AccessLeadNanoseconds || !IsPaceKeeper)
        {
            return; // no vCPU keeps pace (tools), or the lead is that short already
        }

        lock (_gate)
        {
            if (_stops > 0 || _leadUntil == 0)
            {
                return;
            }

            BeginPublishing();
            long now = HostClock.NowNanoseconds;
            if (now + AccessLeadNanoseconds < _leadUntil)
            {
                Volatile.Write(ref _leadUntil, now + AccessLeadNanoseconds);
            }

            EndPublishing();
        }
    }

    /// <summary>The vCPU halted until an interrupt: the clock runs freely until its next <see cref="CheckIn"/>.</summary>
    public void ReleaseLead()
    {
        lock (_gate)
        {
            if (_leadUntil == 0)
            {
                return;
            }

            if (_stops > 0)
            {
                _leadUntil = 0; // the start publishes the free-running clock
                return;
            }

            BeginPublishing();
            EndHold(HostClock.NowNanoseconds);
            Volatile.Write(ref _leadUntil, 0);
            EndPublishing();
        }
    }

    /// <summary>What readers hold at: the stop while stopped, else the vCPU's lead (0: running freely).</summary>
    private long HoldAt => _stops > 0 ? _stoppedAt : _leadUntil;

    /// <summary>Takes the time the clock has held for the vCPU, up to <paramref name="now"/>, out of the clock.</summary>
    private void EndHold(long now)
    {
        if (_leadUntil != 0 && now > _leadUntil)
        {
            _behind += now - _leadUntil;
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
                long now = HostClock.NowNanoseconds;
                _behind += now - _stoppedAt;
                _stoppedAt = 0;
                if (_leadUntil != 0)
                {
                    Volatile.Write(ref _leadUntil, now + MaxLeadNanoseconds); // the vCPU resumes with a fresh lead
                }

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
        long holdAt = HoldAt;
        MachineClockArea.EndWrite(_own, _behind, holdAt);
        foreach (nint mirror in _mirrors)
        {
            MachineClockArea.EndWrite((byte*)mirror, _behind, holdAt);
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
