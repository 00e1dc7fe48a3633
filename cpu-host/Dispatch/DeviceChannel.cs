using System.Diagnostics;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// The CPU side of one device process: its segment, its ring requester, the event pump, and what each of its
/// devices answers while the process is down. Every access either gets the device's answer or completes with
/// bus-error semantics (reads all ones, writes dropped); none hangs on a dead or hung device.
/// </summary>
public sealed class DeviceChannel : IDisposable
{
    /// <summary>How long one access may wait for the device before the device is declared hung and killed.</summary>
    public static readonly TimeSpan DefaultAccessDeadline = TimeSpan.FromSeconds(5);

    private readonly IRequestTransport _requester;
    private readonly Action<RingMessage> _applyEvent;
    private readonly Action<DeviceChannel, string> _onFault;
    private readonly Thread _eventPump;
    private readonly long _deadlineTicks;
    private DeviceCounters[] _counters = [];

    /// <summary>Held while events are taken and applied, so whoever takes the lock next sees all earlier ones applied.</summary>
    private readonly Lock _eventGate = new();

    /// <summary>Events raised during an access that the pump took first; the accessing thread applies them.</summary>
    private readonly Queue<RingMessage> _forAccess = new();

    /// <summary>Most during-access events held for the accessing thread; more is a flood, and the device is faulted.</summary>
    private const int MaxEventsForAccess = 4096;
    private volatile bool _disposed;

    /// <summary>Opens the channel over <paramref name="segment"/>; <paramref name="applyEvent"/> handles the device's events.</summary>
    public DeviceChannel(string processKey, RingSegment segment, IRequestTransport transport, Action<RingMessage> applyEvent, Action<DeviceChannel, string> onFault)
    {
        ProcessKey = processKey;
        Segment = segment;
        _requester = transport;
        _applyEvent = applyEvent;
        _onFault = onFault;
        _deadlineTicks = (long)(DefaultAccessDeadline.TotalSeconds * Stopwatch.Frequency);
        _eventPump = new Thread(PumpEvents) { Name = $"events-{processKey}", IsBackground = true };
        _eventPump.Start();
    }

    /// <summary>The device process's name (device id or group).</summary>
    public string ProcessKey { get; }

    /// <summary>The segment.</summary>
    public RingSegment Segment { get; }

    /// <summary>Process id, as the launcher reported it (0 before binding).</summary>
    public int ProcessId { get; private set; }

    /// <summary>Device ids in ring order.</summary>
    public IReadOnlyList<string> DeviceIds { get; private set; } = [];

    /// <summary>Why the channel failed, if it did.</summary>
    public string? Fault { get; private set; }

    /// <summary>Whether the device process is known dead.</summary>
    public bool IsDead => _requester.IsPeerDead;

    /// <summary>Records which devices the process serves (in ring order).</summary>
    public void Bind(int processId, IReadOnlyList<string> deviceIds)
    {
        ProcessId = processId;
        DeviceIds = deviceIds;
        _counters = deviceIds.Select(_ => new DeviceCounters()).ToArray();
    }

    /// <summary>The dispatch target for region <paramref name="region"/> of device <paramref name="device"/>.</summary>
    public IRegionHandler HandlerFor(int device, int region) =>
        new RingRegionHandler(this, (ushort)device, (ushort)region);

    /// <summary>The map's link to device number <paramref name="device"/> of this process.</summary>
    public IDeviceLink LinkFor(int device) => new ChannelDeviceLink(this, (ushort)device);

    /// <summary>Sends a control request (barrier, region gone/back) and waits for its answer.</summary>
    private bool Control(MessageKind kind, ushort device, ushort region)
    {
        RingMessage request = new() { Kind = kind, Device = device, Region = region };
        return Complete(ref request, out RingMessage reply)
            && reply.Kind is MessageKind.BarrierDone or MessageKind.ControlDone;
    }

    /// <summary>The process is gone: wake every waiter; accesses now complete as bus errors.</summary>
    public void MarkDead(string why)
    {
        Fault ??= why;
        _requester.MarkPeerDead();
    }

    /// <summary>Counters for device <paramref name="device"/> as the CPU saw them.</summary>
    public DeviceAccessStats Stats(int device) => new()
    {
        DeviceId = DeviceIds[device],
        Reads = Interlocked.Read(ref _counters[device].Reads),
        Writes = Interlocked.Read(ref _counters[device].Writes),
        BusErrors = Interlocked.Read(ref _counters[device].BusErrors),
    };

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        _requester.MarkPeerDead();
        _eventPump.Join();
        Segment.Dispose();
    }

    private ulong Read(ushort device, ushort region, ulong offset, int size)
    {
        RingMessage request = new() { Kind = MessageKind.Read, AccessSize = (byte)size, Device = device, Region = region, Offset = offset };
        if (Complete(ref request, out RingMessage reply) && reply.Kind == MessageKind.ReadDone)
        {
            Interlocked.Increment(ref _counters[device].Reads);
            return reply.Value;
        }

        Interlocked.Increment(ref _counters[device].BusErrors);
        return MachineBus.AllOnes(size);
    }

    private void Write(ushort device, ushort region, ulong offset, int size, ulong value)
    {
        RingMessage request = new() { Kind = MessageKind.Write, AccessSize = (byte)size, Device = device, Region = region, Offset = offset, Value = value };
        if (Complete(ref request, out RingMessage reply) && reply.Kind == MessageKind.WriteDone)
        {
            Interlocked.Increment(ref _counters[device].Writes);
            return;
        }

        Interlocked.Increment(ref _counters[device].BusErrors);
    }

    /// <summary>One round trip; false when the access must complete as a bus error.</summary>
    private bool Complete(ref RingMessage request, out RingMessage reply)
    {
        RingCallStatus status = _requester.Call(ref request, out reply, Stopwatch.GetTimestamp() + _deadlineTicks);
        switch (status)
        {
            case RingCallStatus.Completed:
                if (((ReplyFlags)reply.Flags & ReplyFlags.EventsFirst) != 0)
                {
                    // Events the handler raised take effect before the access completes (next instruction sees them).
                    DrainEvents();
                }

                return true;
            case RingCallStatus.TimedOut:
                // The device may still be running the handler: it must be stopped before anything is released.
                _onFault(this, $"no reply within {DefaultAccessDeadline.TotalMilliseconds} ms: handler hung");
                return false;
            case RingCallStatus.ProtocolError:
                _onFault(this, "device broke the ring protocol");
                return false;
            default:
                return false;
        }
    }

    /// <summary>
    /// On the accessing thread, after a reply flagged EventsFirst: applies every event the handler raised. Events
    /// are published before the reply, and taking and applying happen under one lock, so when this returns all of
    /// them were applied (map changes deferred to just after the access's lease is released).
    /// </summary>
    private void DrainEvents()
    {
        lock (_eventGate)
        {
            while (_forAccess.TryDequeue(out RingMessage held))
            {
                _applyEvent(held);
            }

            while (_requester.TryTakeEvent(out RingMessage message))
            {
                _applyEvent(message);
            }
        }
    }

    /// <summary>On the event pump: applies events raised outside accesses; keeps the others for the accessing thread.</summary>
    private void PumpPendingEvents()
    {
        lock (_eventGate)
        {
            while (_requester.TryTakeEvent(out RingMessage message))
            {
                if (((EventFlags)message.Flags & EventFlags.DuringAccess) == 0)
                {
                    _applyEvent(message);
                }
                else if (_forAccess.Count < MaxEventsForAccess)
                {
                    _forAccess.Enqueue(message);
                }
                else
                {
                    _onFault(this, "event flood: too many events raised during accesses");
                    _forAccess.Clear();
                    return;
                }
            }
        }
    }

    private void PumpEvents()
    {
        while (!_disposed)
        {
            _requester.WaitForEvent(WaitSettings.DefaultSleepSliceMicroseconds);
            PumpPendingEvents();
            if (_requester.IsPeerDead)
            {
                Thread.Sleep(10); // nothing more will come; keep idle until disposed
            }
        }
    }

    private sealed class RingRegionHandler(DeviceChannel channel, ushort device, ushort region) : IRegionHandler
    {
        public ulong Read(ulong offset, int size) => channel.Read(device, region, offset, size);

        public void Write(ulong offset, int size, ulong value) => channel.Write(device, region, offset, size, value);
    }

    private sealed class ChannelDeviceLink(DeviceChannel channel, ushort device) : IDeviceLink
    {
        public bool CanBeStopped => true;

        public IRegionHandler HandlerFor(int region) => channel.HandlerFor(device, region);

        public bool Barrier() => channel.Control(MessageKind.Barrier, device, 0);

        public bool NotifyRegionGone(int region) => channel.Control(MessageKind.RegionsGone, device, (ushort)region);

        public bool NotifyRegionBack(int region) => channel.Control(MessageKind.RegionsBack, device, (ushort)region);

        public void StopHungDevice(string why) => channel._onFault(channel, why);
    }

    private sealed class DeviceCounters
    {
        public long Reads;
        public long Writes;
        public long BusErrors;
    }
}
