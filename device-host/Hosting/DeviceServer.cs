using MemoryPack;
using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Serves a device process's devices over its segment: one thread takes each request, runs the device's
/// handler, and replies. Requests are handled strictly in ring order, so a read completes only after every
/// earlier posted write was handled.
/// </summary>
public sealed class DeviceServer : IDisposable
{
    private readonly IRequestServer _responder;
    private readonly IReadOnlyList<IDevice> _devices;
    private readonly IReadOnlyList<string> _deviceIds;
    private readonly RingSegment? _segment;
    private readonly OutputForwarder _output;
    private readonly DeviceCounters[] _counters;
    private readonly Thread _thread;

    /// <summary>Why the serving thread's wait must end: <see cref="WakeStop"/> and/or <see cref="WakeTimers"/>.</summary>
    private int _wake;

    private const int WakeStop = 1;
    private const int WakeTimers = 2;

    private readonly DeviceTimers _timers;
    private readonly DmaActivity? _dma;

    /// <summary>
    /// Starts serving <paramref name="devices"/> (ring device number = list index). Snapshots travel through
    /// <paramref name="segment"/>'s state area (null: the transport has none, and devices cannot be restored).
    /// </summary>
    public DeviceServer(IRequestServer responder, IReadOnlyList<IDevice> devices, IReadOnlyList<string> deviceIds, RingSegment? segment, OutputForwarder output, DeviceTimers timers, DmaActivity? dma = null)
    {
        _timers = timers;
        _dma = dma;
        _responder = responder;
        _devices = devices;
        _deviceIds = deviceIds;
        _segment = segment;
        _output = output;
        _counters = devices.Select(_ => new DeviceCounters()).ToArray();
        _thread = new Thread(Serve) { Name = "device-server", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Whether the serving thread still runs (it ends on a stop, or when its transport closed for good).</summary>
    public bool IsServing => _thread.IsAlive;

    /// <summary>Accesses served per device (reads, writes, failures).</summary>
    public DeviceCounters Counters(int device) => _counters[device];

    /// <summary>Stops serving after the request in hand; returns when the thread has ended.</summary>
    public void Stop()
    {
        Interlocked.Or(ref _wake, WakeStop);
        _responder.KickRequestWaiter();
        _thread.Join();
    }

    /// <summary>Some device timer is due: the serving thread runs it after the request in hand (any thread).</summary>
    public void WakeForTimers()
    {
        if ((Interlocked.Or(ref _wake, WakeTimers) & WakeTimers) == 0)
        {
            _responder.KickRequestWaiter();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Stop();

    private void Serve()
    {
        while (true)
        {
            if (_responder.WaitForRequest(out RingMessage request, ref _wake))
            {
                RingMessage reply = Handle(in request);
                if (request.Kind != MessageKind.PostedWrite)
                {
                    if (_dma?.TakeHappened(request.Device) == true && reply.Kind is MessageKind.ReadDone or MessageKind.WriteDone)
                    {
                        reply.Flags |= (ushort)ReplyFlags.DidDma;
                    }

                    _responder.Reply(reply);
                }
            }
            else if (_responder.IsClosed)
            {
                return; // a closed socket answers at once: waiting again would spin a core
            }

            int wake = Volatile.Read(ref _wake);
            if ((wake & WakeStop) != 0)
            {
                return;
            }

            if ((wake & WakeTimers) != 0)
            {
                Interlocked.And(ref _wake, ~WakeTimers);
                RunDueTimers();
            }
        }
    }

    /// <summary>Runs the callbacks of due timers, between accesses; a failing callback is reported, not fatal.</summary>
    private void RunDueTimers()
    {
        long now = _timers.Clock.NowNanoseconds;
        Span<int> due = stackalloc int[Math.Max(1, _devices.Count)];
        int count = _timers.TakeDue(now, due);
        for (int i = 0; i < count; i++)
        {
            if (_devices[due[i]] is ITimedDevice timed)
            {
                try
                {
                    timed.OnTimer(now);
                }
                catch (Exception ex)
                {
                    Console.Error.WriteLine($"device {_deviceIds[due[i]]}: timer: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }
    }

    private RingMessage Handle(in RingMessage request)
    {
        RingMessage reply = new() { Tag = request.Tag, Device = request.Device, Region = request.Region };
        if (request.Kind == MessageKind.Barrier)
        {
            reply.Kind = MessageKind.BarrierDone;
            return reply;
        }

        if (request.Kind is MessageKind.SaveState or MessageKind.RestoreState)
        {
            reply.Kind = request.Device < _devices.Count ? SaveOrRestore(in request, ref reply) : MessageKind.Failed;
            return reply;
        }

        if (request.Kind == MessageKind.ResetDevice)
        {
            reply.Kind = request.Device < _devices.Count ? ResetDevice(request.Device) : MessageKind.Failed;
            return reply;
        }

        if (request.Kind is MessageKind.RegionsGone or MessageKind.RegionsBack && request.Device < _devices.Count)
        {
            _counters[request.Device].Regions.Set(request.Region, request.Kind == MessageKind.RegionsGone);
            reply.Kind = MessageKind.ControlDone;
            return reply;
        }

        if (request.Kind == MessageKind.Input)
        {
            reply.Kind = request.Device < _devices.Count ? Input(in request, ref reply) : MessageKind.Failed;
            return reply;
        }

        if (request.Device >= _devices.Count || !IsAccessSize(request.AccessSize))
        {
            reply.Kind = MessageKind.Failed;
            return reply;
        }

        IDevice device = _devices[request.Device];
        _counters[request.Device].Regions.CountAccess(request.Region);
        if (request.Region >= device.Regions.Count)
        {
            _counters[request.Device].Failures++;
            reply.Kind = MessageKind.Failed;
            return reply;
        }

        // Events raised by a posted write are not held for an access (there is no reply to wait for): the pump
        // applies them, and the next reply's EventsFirst makes the CPU take any still in the ring first.
        using DeviceAccessScope.Scope scope = DeviceAccessScope.Enter(AccessTime.Of(in request), awaited: request.Kind != MessageKind.PostedWrite);
        try
        {
            switch (request.Kind)
            {
                case MessageKind.Read:
                    reply.Value = device.Read(request.Region, request.Offset, request.AccessSize);
                    reply.Kind = MessageKind.ReadDone;
                    _counters[request.Device].Reads++;
                    break;
                case MessageKind.Write:
                case MessageKind.PostedWrite:
                    device.Write(request.Region, request.Offset, request.AccessSize, request.Value);
                    reply.Kind = MessageKind.WriteDone;
                    _counters[request.Device].Writes++;
                    break;
                default:
                    _counters[request.Device].Failures++;
                    reply.Kind = MessageKind.Failed;
                    break;
            }
        }
        catch (Exception ex)
        {
            // A model bug fails this access (a bus error for the guest), not the whole process.
            Console.Error.WriteLine($"device {request.Device} region {request.Region} offset 0x{request.Offset:X}: {ex.GetType().Name}: {ex.Message}");
            _counters[request.Device].Failures++;
            reply.Kind = MessageKind.Failed;
        }

        return reply;
    }

    /// <summary>
    /// Console input: the device takes what it has room for, like an access (never beside one, its events
    /// flagged as raised during it). A device with no receive side fails it.
    /// </summary>
    private MessageKind Input(in RingMessage request, ref RingMessage reply)
    {
        Span<byte> data = stackalloc byte[InputPayload.MaxBytes];
        int count = InputPayload.Unpack(in request, data);
        if (count < 0 || _devices[request.Device] is not IConsoleInput input)
        {
            return MessageKind.Failed;
        }

        _counters[request.Device].Regions.CountAccess(request.Region);
        using DeviceAccessScope.Scope scope = DeviceAccessScope.Enter(AccessTime.Of(in request), awaited: true);
        try
        {
            reply.Value = (ulong)Math.Clamp(input.AcceptInput(data[..count]), 0, count);
            return MessageKind.InputTaken;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"device {_deviceIds[request.Device]}: console input: {ex.GetType().Name}: {ex.Message}");
            _counters[request.Device].Failures++;
            return MessageKind.Failed;
        }
    }

    /// <summary>Saves a device's state into the state area, or restores it from there.</summary>
    /// <summary>A machine reset: the device back to its power-on state; a model that fails is reported, the reset answered.</summary>
    private MessageKind ResetDevice(ushort device)
    {
        try
        {
            _devices[device].Reset();
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"device {_deviceIds[device]}: reset: {ex.GetType().Name}: {ex.Message}");
            return MessageKind.Failed;
        }

        return MessageKind.ControlDone;
    }

    private MessageKind SaveOrRestore(in RingMessage request, ref RingMessage reply)
    {
        if (_segment is null || _devices[request.Device] is not ISnapshotable model)
        {
            return MessageKind.Failed;
        }

        string deviceId = _deviceIds[request.Device];
        Span<byte> area = _segment.StateArea;
        try
        {
            if (request.Kind == MessageKind.SaveState)
            {
                // A crash after this point is recovered by replaying the accesses since, which re-emits only the
                // bytes after the snapshot; those before it that the launcher may not have yet travel in it.
                (long acknowledged, byte[] unacknowledged) = _output.Unacknowledged(deviceId);
                byte[] saved = MemoryPackSerializer.Serialize(new DeviceSnapshot { OutputOffset = acknowledged, UnacknowledgedOutput = unacknowledged, State = model.SaveState() });
                if (saved.Length > area.Length)
                {
                    Console.Error.WriteLine($"device {deviceId}: state of {saved.Length} bytes does not fit the {area.Length}-byte state area");
                    return MessageKind.Failed;
                }

                saved.CopyTo(area);
                reply.Value = (ulong)saved.Length;
                return MessageKind.StateSaved;
            }

            if (request.Value > (ulong)area.Length)
            {
                return MessageKind.Failed;
            }

            DeviceSnapshot snapshot = MemoryPackSerializer.Deserialize<DeviceSnapshot>(area[..(int)request.Value])
                ?? throw new InvalidDataException("empty snapshot");
            model.RestoreState(snapshot.State);
            _output.Restore(deviceId, snapshot.OutputOffset, snapshot.UnacknowledgedOutput);
            return MessageKind.ControlDone;
        }
        catch (Exception ex) when (ex is InvalidDataException or MemoryPackSerializationException or ArgumentException)
        {
            Console.Error.WriteLine($"device {deviceId}: {request.Kind} failed: {ex.Message}");
            return MessageKind.Failed;
        }
    }

    private static bool IsAccessSize(byte size) => size is 1 or 2 or 4 or 8;
}

/// <summary>Accesses a device process served for one device. Written by the serving thread only.</summary>
public sealed class DeviceCounters
{
    /// <summary>Reads served.</summary>
    public long Reads;

    /// <summary>Writes served (posted or not).</summary>
    public long Writes;

    /// <summary>Requests that failed (bad region, model exception).</summary>
    public long Failures;

    /// <summary>Regions the device was told are gone, and accesses that arrived for them anyway.</summary>
    public RegionsTold Regions { get; } = new();

    /// <summary>As a wire record.</summary>
    public DeviceAccessStats ToStats(string deviceId, long outputBytes) => new()
    {
        DeviceId = deviceId,
        Reads = Reads,
        Writes = Writes,
        BusErrors = Failures,
        OutputBytes = outputBytes,
        AccessesAfterGone = Regions.AccessesAfterGone,
    };
}
