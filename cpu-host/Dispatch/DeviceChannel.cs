using System.Diagnostics;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// The CPU side of one incarnation of a device process: its segment, its transport, the event pump, death
/// detection, journaling and snapshots. Every access either gets the device's answer or, when the device is
/// dead, waits for its successor (<c>stall</c>) and is re-issued there, or ends with bus-error semantics
/// (<c>all-ones</c>: a read returns all ones, a write is dropped). None hangs on a dead or hung device.
/// </summary>
public sealed class DeviceChannel : IDisposable
{
    private readonly IRequestTransport _requester;
    private readonly DeviceProcessRecord _process;
    private readonly IDeviceEventSink _machine;
    private readonly DeviceEventPump _events;

    /// <summary>Serializes accesses with their journal entries and snapshots, so the journal is in the order served.</summary>
    private readonly Lock _accessGate = new();

    /// <summary>Guards why and when this incarnation died (written by the watcher, the fault path and the launcher).</summary>
    private readonly Lock _deathGate = new();

    /// <summary>Writes were posted since the last reply (which, in ring order, confirms every earlier one handled).</summary>
    private volatile bool _unconfirmedPosts;

    /// <summary>A reply said EventsFirst but was not a guest access: the next access drains (under the access gate).</summary>
    private bool _eventsOwed;

    private ProcessWatcher? _watcher;

    /// <summary>
    /// Opens incarnation <paramref name="epoch"/> of <paramref name="process"/> over <paramref name="segment"/>;
    /// its events, once authorised, and its faults go to <paramref name="machine"/>.
    /// </summary>
    public DeviceChannel(DeviceProcessRecord process, uint epoch, RingSegment segment, IRequestTransport transport, IDeviceEventSink machine)
    {
        _process = process;
        Epoch = epoch;
        Segment = segment;
        _requester = transport;
        _machine = machine;
        process.Clock.Mirror(segment);
        _events = new DeviceEventPump(this, transport, process.Records, machine);
    }

    /// <summary>The device process's name (device id or group).</summary>
    public string ProcessKey => _process.ProcessKey;

    /// <summary>Incarnation number (0 first, +1 per restart).</summary>
    public uint Epoch { get; }

    /// <summary>The segment.</summary>
    public RingSegment Segment { get; }

    /// <summary>Process id, as the launcher reported it (0 before binding).</summary>
    public int ProcessId { get; private set; }

    /// <summary>Why the channel died, if it did.</summary>
    public string? Fault { get; private set; }

    /// <summary>Whether the device process is known dead.</summary>
    public bool IsDead => _requester.IsPeerDead;

    /// <summary>When this process was killed by the CPU process (injection or deadline), or 0.</summary>
    public long KilledAt { get; private set; }

    /// <summary>Why the CPU process killed this process (for the launcher's message), or null if it did not.</summary>
    public string? KillReason { get; private set; }

    /// <summary>When the death was noticed, or 0.</summary>
    public long DetectedAt { get; private set; }

    private volatile bool _replaying;

    /// <summary>True while journaled accesses are replayed (their map-change and exit events are not applied again).</summary>
    public bool Replaying => _replaying;

    /// <summary>Starts serving: records the process id and watches the process for its death.</summary>
    public void Bind(int processId)
    {
        ProcessId = processId;
        _watcher = new ProcessWatcher(processId, () => MarkDead("process exited"));
    }

    /// <summary>Records the regions the devices declared (at bind, before any access; one list per device, checked by the caller).</summary>
    public void SetRegions(IReadOnlyList<IReadOnlyList<DeviceRegionInfo>> regions)
    {
        foreach (IsolatedDeviceRecord record in _process.Records)
        {
            record.DeclaredRegions = regions[record.Index];
        }
    }

    /// <summary>Records the lines each device may drive (at bind; null: any); a device the list leaves out may drive none.</summary>
    public void SetIrqLines(IReadOnlyList<IReadOnlyList<int>>? lines)
    {
        foreach (IsolatedDeviceRecord record in _process.Records)
        {
            record.IrqLines = lines is null ? null : record.Index < lines.Count ? lines[record.Index] : [];
        }
    }

    /// <summary>Records what else each device may ask of the machine (at bind; null grants everything); a device the list leaves out may ask nothing.</summary>
    public void SetEventGrants(IReadOnlyList<DeviceEventGrant>? grants)
    {
        foreach (IsolatedDeviceRecord record in _process.Records)
        {
            record.EventGrant = grants is null ? null : record.Index < grants.Count ? grants[record.Index] : new DeviceEventGrant(false, false);
        }
    }

    /// <summary>
    /// This incarnation is replaced (or given up): returns the lines it left asserted, and from now on none of its
    /// interrupt-line events is applied (see <see cref="DeviceEventPump.Retire"/>).
    /// </summary>
    public int Retire() => _events.Retire();

    /// <summary>
    /// After a restart: the lines device <paramref name="device"/> holds asserted now (restored and replayed), those
    /// granted to it taken as this incarnation's; null when it did not answer.
    /// </summary>
    public int? ReportLines(int device)
    {
        lock (_accessGate)
        {
            RingMessage request = new() { Kind = MessageKind.ReportLines, Device = (ushort)device };
            if (!Send(ref request, out RingMessage reply) || reply.Kind != MessageKind.ControlDone)
            {
                return null;
            }

            return _events.AdoptLines(_process.Records[device], (uint)reply.Value);
        }
    }

    /// <summary>The dispatch target for region <paramref name="region"/> of device <paramref name="device"/>.</summary>
    public IRegionHandler HandlerFor(int device, int region) =>
        new RingRegionHandler(this, (ushort)device, (ushort)region, PostedInfo(device, region));

    /// <summary>Rings the doorbell for posted writes not yet announced (the vCPU calls it between run slices).</summary>
    public void FlushPosted()
    {
        if (!IsDead)
        {
            _requester.Flush();
        }
    }

    /// <summary>
    /// Waits until every request sent to this incarnation before the call was handled, posted writes included (a
    /// barrier through the ring). False if the device is dead or did not answer in time.
    /// </summary>
    public bool DrainPosted() => !IsDead && Barrier(0);

    /// <summary>A barrier through the ring for device <paramref name="device"/>: every request before it was handled.</summary>
    private bool Barrier(ushort device) => Control(MessageKind.Barrier, device, 0);

    /// <summary>Whether writes were posted to this incarnation that no later reply has confirmed handled.</summary>
    public bool HasUnconfirmedPosts => _unconfirmedPosts;

    private DeviceRegionInfo? PostedInfo(int device, int region) =>
        _process.Records[device].DeclaredRegions is { } regions && region < regions.Count && regions[region].PostedWrites ? regions[region] : null;

    /// <summary>The map's link to device number <paramref name="device"/> of this process.</summary>
    public IDeviceLink LinkFor(int device) => new ChannelDeviceLink(this, (ushort)device);

    /// <summary>Records why the CPU process is about to kill this incarnation (before the kill, so the watcher's
    /// "process exited" does not hide it). Wakes nobody: waiters must wait until the process is dead.</summary>
    public void RecordFault(string why)
    {
        lock (_deathGate)
        {
            Fault ??= why;
        }
    }

    /// <summary>The process is gone: wake every waiter; accesses now stall or end as bus errors.</summary>
    public void MarkDead(string why)
    {
        lock (_deathGate)
        {
            if (DetectedAt == 0)
            {
                DetectedAt = Stopwatch.GetTimestamp();
                Fault ??= why;
            }
        }

        _requester.MarkPeerDead();
    }

    /// <summary>Counters for device <paramref name="device"/> as the CPU saw them (this incarnation).</summary>
    public DeviceAccessStats Stats(int device) => new()
    {
        DeviceId = _process.Devices[device].Id,
        Reads = Interlocked.Read(ref _process.Records[device].Counters.Reads),
        Writes = Interlocked.Read(ref _process.Records[device].Counters.Writes),
        BusErrors = Interlocked.Read(ref _process.Records[device].Counters.BusErrors),
    };

    /// <summary>
    /// Asks device <paramref name="device"/> for its state; on success its journal starts over from it, on
    /// failure the device is marked not restorable (it will be reset after a crash).
    /// </summary>
    public void TakeSnapshot(int device)
    {
        lock (_accessGate)
        {
            TakeSnapshotUnsynchronized((ushort)device);
        }
    }

    /// <summary>
    /// Brings device <paramref name="device"/> of this new incarnation to where its predecessor was: restores its
    /// snapshot, replays its journal. Returns (replayed, divergent reads), or null when it had to be reset.
    /// </summary>
    public (int Replayed, int Divergences)? Restore(int device)
    {
        DeviceJournal journal = _process.Records[device].Journal;
        if (!journal.Enabled)
        {
            return null;
        }

        lock (_accessGate)
        {
            if (journal.Snapshot is { } snapshot)
            {
                snapshot.CopyTo(Segment.StateArea);
                RingMessage restore = new() { Kind = MessageKind.RestoreState, Device = (ushort)device, Value = (ulong)snapshot.Length };
                if (!Send(ref restore, out RingMessage restored) || restored.Kind != MessageKind.ControlDone)
                {
                    journal.Disable();
                    return null;
                }
            }

            int divergences = 0;
            _replaying = true;
            try
            {
                foreach (JournalEntry entry in journal.Entries)
                {
                    RingMessage request = entry.Request;
                    request.Flags |= (ushort)RequestFlags.Replayed; // it re-does what its predecessor did, as it did it
                    if (!Send(ref request, out RingMessage reply))
                    {
                        return null; // died again while replaying: the next restart starts over
                    }

                    // A read answering differently, or an input taking a different count, is a divergence.
                    if (request.Kind is MessageKind.Read or MessageKind.Input && reply.Value != entry.ReadValue)
                    {
                        divergences++;
                    }
                }

                // Replayed posted writes were not waited for: the barrier's reply says the device handled them, and their
                // events are taken now, while the flag still drops them, so none is applied a second time later.
                RingMessage barrier = new() { Kind = MessageKind.Barrier, Device = (ushort)device };
                if (!Send(ref barrier, out RingMessage handled) || handled.Kind != MessageKind.BarrierDone)
                {
                    return null;
                }

                _events.DrainForAccess();
            }
            finally
            {
                _replaying = false;
            }

            return (journal.Entries.Count, divergences);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _requester.MarkPeerDead();
        _events.Dispose();
        _watcher?.Dispose();
        _process.Clock.Forget(Segment);
        Segment.Dispose();
    }

    /// <summary>A guest read: answered here, by a successor after a restart (stall), or all ones.</summary>
    private ulong Read(ushort device, ushort region, ulong offset, int size)
    {
        RingMessage request = new() { Kind = MessageKind.Read, AccessSize = (byte)size, Device = device, Region = region, Offset = offset };
        return Access(ref request, out RingMessage reply) ? reply.Value : MachineBus.AllOnes(size);
    }

    /// <summary>A guest write: handled (or, if posted, published) here, by a successor after a restart (stall), or dropped.</summary>
    private void Write(ushort device, ushort region, ulong offset, int size, ulong value, bool posted)
    {
        RingMessage request = new()
        {
            Kind = posted ? MessageKind.PostedWrite : MessageKind.Write,
            AccessSize = (byte)size,
            Device = device,
            Region = region,
            Offset = offset,
            Value = value,
        };

        Access(ref request, out _);
    }

    /// <summary>
    /// One guest access, re-issued to successors while the device is down and its profile says stall. It carries
    /// the machine time it was made at (<see cref="AccessTime"/>), for a posted write handled later and for the replay.
    /// </summary>
    private bool Access(ref RingMessage request, out RingMessage reply)
    {
        DeviceChannel channel = this;
        bool firstAttempt = true;
        MachineClockSource.StopScope injectedOutage = default;
        AccessTime.Stamp(ref request, _process.Clock.Clock.NowNanoseconds);
        if (request.Kind != MessageKind.PostedWrite)
        {
            _process.Clock.HoldForAccess(); // the guest sees a device answer in microseconds, however late it comes
        }

        try
        {
            while (true)
            {
                if (channel.TryServe(ref request, out reply, injectable: firstAttempt, ref injectedOutage))
                {
                    return true;
                }

                firstAttempt = false;
                if (!channel.IsDead || _process.WhileDown(request.Device) != DownBehavior.Stall
                    || _process.WaitForSuccessor(channel, request.Device) is not { } successor)
                {
                    Interlocked.Increment(ref _process.Records[request.Device].Counters.BusErrors);
                    return false;
                }

                channel = successor;
            }
        }
        finally
        {
            injectedOutage.Dispose(); // the access is done (or given up): the clock runs again
            _process.Clock.CheckIn(); // and has not run more than a lead past the vCPU while it waited for a slow device
        }
    }

    /// <summary>Sends an access to this incarnation and journals it; false if the device did not answer it.</summary>
    /// <param name="request">The access.</param>
    /// <param name="reply">The device's answer, when it answered.</param>
    /// <param name="injectable">Whether crash injection may kill the process for this access (its first attempt).</param>
    /// <param name="injectedOutage">Set when crash injection kills the process for this access: the clock stops
    /// from the kill on, not only from its detection, so the guest sees none of an outage we caused.</param>
    private bool TryServe(ref RingMessage request, out RingMessage reply, bool injectable, ref MachineClockSource.StopScope injectedOutage)
    {
        lock (_accessGate)
        {
            IsolatedDeviceRecord device = _process.Records[request.Device];
            DeviceJournal journal = device.Journal;
            if (injectable)
            {
                injectedOutage = InjectCrashIfDueUnsynchronized(in request);
            }

            if (!Send(ref request, out reply) || reply.Kind is not (MessageKind.ReadDone or MessageKind.WriteDone))
            {
                return false;
            }

            journal.Record(in request, reply.Value);
            if (request.Kind == MessageKind.Read)
            {
                Interlocked.Increment(ref device.Counters.Reads);
            }
            else
            {
                Interlocked.Increment(ref device.Counters.Writes);
            }

            // A full journal, or a DMA or an act on outside state since the last reply (neither replayed), starts over.
            if (journal.Enabled && (journal.IsFull || NotReplayable(in reply)))
            {
                TakeSnapshotUnsynchronized(request.Device);
            }

            return true;
        }
    }

    /// <summary>
    /// A machine reset: each device of this process back to its power-on state, its journal starting again from
    /// there. If the process dies meanwhile and the device stalls, its successor (restored to before the reset)
    /// is reset instead; a device that does not stall is left to its restart's reset.
    /// </summary>
    public void ResetDevices()
    {
        for (ushort device = 0; device < _process.Devices.Count; device++)
        {
            DeviceChannel channel = this;
            while (!channel.TryResetDevice(device))
            {
                if (!channel.IsDead || _process.WhileDown(device) != DownBehavior.Stall
                    || _process.WaitForSuccessor(channel, device) is not { } successor)
                {
                    break;
                }

                channel = successor;
            }
        }
    }

    private bool TryResetDevice(ushort device)
    {
        lock (_accessGate)
        {
            RingMessage reset = new() { Kind = MessageKind.ResetDevice, Device = device };
            if (!Send(ref reset, out RingMessage reply) || reply.Kind != MessageKind.ControlDone)
            {
                return false;
            }

            if (_process.Records[device].Journal.Enabled)
            {
                TakeSnapshotUnsynchronized(device);
            }

            return true;
        }
    }

    /// <summary>
    /// Console input for device <paramref name="device"/>: one message of up to <see cref="InputPayload.MaxBytes"/>
    /// bytes, sent and journaled under the access gate like an access (and counted by access-based crash
    /// injection). It never waits for a restart: a dead device takes nothing now, the bytes stay queued in the CPU
    /// process, and its successor (restored to just after the last input its predecessor answered) gets them.
    /// Returns the count taken, <see cref="IRegionHandler.InputNotNow"/> or <see cref="IRegionHandler.InputRefused"/>.
    /// </summary>
    private int Input(ushort device, ushort region, ReadOnlySpan<byte> data)
    {
        RingMessage request = InputPayload.Request(device, region, data);
        AccessTime.Stamp(ref request, _process.Clock.Clock.NowNanoseconds);
        lock (_accessGate)
        {
            // Input never waits for a successor, so the clock need not stand still for this kill.
            InjectCrashIfDueUnsynchronized(in request).Dispose();
            if (!Send(ref request, out RingMessage reply))
            {
                return reply.Kind == MessageKind.Failed && !IsDead ? IRegionHandler.InputRefused : IRegionHandler.InputNotNow;
            }

            // The transport refused any answer taking more than was offered (a protocol breach), so this is in range.
            DeviceJournal journal = _process.Records[device].Journal;
            journal.Record(in request, reply.Value);
            if (journal.Enabled && (journal.IsFull || NotReplayable(in reply)))
            {
                TakeSnapshotUnsynchronized(device);
            }

            return (int)reply.Value;
        }
    }

    /// <summary>
    /// Access-based crash injection: kills the process now if this request is the one (caller holds the access
    /// gate), with the machine clock stopped first; the caller ends the stop when the request is done.
    /// </summary>
    private MachineClockSource.StopScope InjectCrashIfDueUnsynchronized(in RingMessage request)
    {
        if (!_process.Records[request.Device].Injector.ShouldKill(in request))
        {
            return default;
        }

        MachineClockSource.StopScope outage = _process.Clock.Stop();
        // The crash lands while this request is in flight: handled or not, never answered.
        KilledAt = Stopwatch.GetTimestamp();
        KillReason = "killed as requested (crash injection)";
        if (request.Kind == MessageKind.PostedWrite)
        {
            // No reply will wait for this crash: the process must be gone before the guest's next access, or a dying
            // process could still answer that one and the crash would land later than the access it was asked for.
            ProcessKiller.KillAndWait(ProcessId, TimeSpan.FromSeconds(1));
        }
        else
        {
            ProcessKiller.Kill(ProcessId);
        }

        return outage;
    }

    /// <summary>
    /// Whether the device did, since its previous reply, what a replay of its journal would not do the same: DMA
    /// (replayed, it would move guest memory as it is now) or acting on state from outside the machine (its output's
    /// back-pressure). Its journal then starts over from a snapshot taken right after this reply.
    /// </summary>
    private static bool NotReplayable(in RingMessage reply) =>
        ((ReplyFlags)reply.Flags & (ReplyFlags.DidDma | ReplyFlags.ActedOnOutsideState)) != 0;

    /// <summary>Caller holds the access gate.</summary>
    private void TakeSnapshotUnsynchronized(ushort device)
    {
        DeviceJournal journal = _process.Records[device].Journal;
        RingMessage save = new() { Kind = MessageKind.SaveState, Device = device };
        if (Send(ref save, out RingMessage saved) && saved.Kind == MessageKind.StateSaved && saved.Value <= (ulong)Segment.StateArea.Length)
        {
            journal.Reset(Segment.StateArea[..(int)saved.Value].ToArray());
        }
        else if (!IsDead)
        {
            journal.Disable(); // the model cannot be snapshotted: it will be reset after a crash
        }
    }

    /// <summary>One round trip; false when the device is dead, hung (and now killed) or broke the protocol.</summary>
    private bool Send(ref RingMessage request, out RingMessage reply)
    {
        // Every request names one of this process's devices (the CPU process builds them): an index past the end is
        // a bug here, and throws rather than borrowing another device's deadline.
        IsolatedDeviceRecord record = _process.Records[request.Device];
        long deadline = Stopwatch.GetTimestamp() + record.AccessTimeoutTicks;
        RingCallStatus status;
        if (request.Kind == MessageKind.PostedWrite)
        {
            // Published, not awaited: ring order makes any later read see it handled. Journaled like any write,
            // so a crash before the device handled it is repaired by the replay.
            status = _requester.Post(ref request, deadline);
            reply = new RingMessage { Kind = MessageKind.WriteDone, Tag = request.Tag };
            _unconfirmedPosts = true;
        }
        else
        {
            status = _requester.Call(ref request, out reply, deadline);
            if (status == RingCallStatus.Completed)
            {
                _unconfirmedPosts = false;
            }
        }

        switch (status)
        {
            case RingCallStatus.Completed:
                _eventsOwed |= ((ReplyFlags)reply.Flags & ReplyFlags.EventsFirst) != 0;
                if (_eventsOwed && request.Kind is MessageKind.Read or MessageKind.Write or MessageKind.PostedWrite or MessageKind.Input)
                {
                    // Events posted before this reply take effect before the access completes (the next
                    // instruction sees them). A control reply only passes the debt on: its callers may hold the
                    // map's gate, which the event pump can be waiting for while it holds the event gate.
                    _eventsOwed = false;
                    _events.DrainForAccess();
                }

                return reply.Kind != MessageKind.Failed;
            case RingCallStatus.TimedOut:
                // The device may still be running the handler: it must be stopped before anything is released.
                KilledAt = Stopwatch.GetTimestamp();
                KillReason = $"killed: no reply within {record.Config.AccessTimeoutMs} ms (handler hung)";
                _machine.ChannelFaulted(this, $"no reply within {record.Config.AccessTimeoutMs} ms: handler hung");
                return false;
            case RingCallStatus.ProtocolError:
                KilledAt = Stopwatch.GetTimestamp();
                KillReason = "killed: it broke the ring protocol";
                _machine.ChannelFaulted(this, "device broke the ring protocol");
                return false;
            default:
                return false;
        }
    }

    private sealed class RingRegionHandler(DeviceChannel channel, ushort device, ushort region, DeviceRegionInfo? posted) : IRegionHandler
    {
        public ulong Read(ulong offset, int size) => channel.Read(device, region, offset, size);

        public void Write(ulong offset, int size, ulong value) =>
            channel.Write(device, region, offset, size, value, posted is not null && posted.SynchronousOffsets?.Contains(offset) != true);

        public int Input(ReadOnlySpan<byte> data) => channel.Input(device, region, data);
    }

    private sealed class ChannelDeviceLink(DeviceChannel channel, ushort device) : IDeviceLink
    {
        public bool CanBeStopped => true;

        public IRegionHandler HandlerFor(int region) => channel.HandlerFor(device, region);

        public bool Barrier() => channel.Barrier(device);

        public bool NotifyRegionGone(int region) => channel.Control(MessageKind.RegionsGone, device, (ushort)region);

        public bool NotifyRegionBack(int region) => channel.Control(MessageKind.RegionsBack, device, (ushort)region);

        public void StopHungDevice(string why) => channel._machine.ChannelFaulted(channel, why);

        public void SetAbandoned(bool abandoned) => channel._process.SetAbandoned(device, abandoned);
    }

    /// <summary>Sends a control request (barrier, region gone/back) and waits for its answer.</summary>
    private bool Control(MessageKind kind, ushort device, ushort region)
    {
        lock (_accessGate)
        {
            RingMessage request = new() { Kind = kind, Device = device, Region = region };
            return Send(ref request, out RingMessage reply) && reply.Kind is MessageKind.BarrierDone or MessageKind.ControlDone;
        }
    }

}
