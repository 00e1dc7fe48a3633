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

    /// <summary>How each device (index = ring device number) is called: counted, failures contained, regions told.</summary>
    private readonly DeviceInvoker[] _invokers;
    private readonly RingSegment? _segment;
    private readonly OutputForwarder _output;
    private readonly Thread _thread;

    /// <summary>Why the serving thread's wait must end: <see cref="WakeStop"/> and/or <see cref="WakeTimers"/>.</summary>
    private int _wake;

    private const int WakeStop = 1;
    private const int WakeTimers = 2;

    private readonly DeviceTimers _timers;
    private readonly UnjournaledActivity? _unjournaled;
    private readonly IReadOnlyList<DeviceLineLevels> _lines;

    /// <summary>
    /// Starts serving <paramref name="devices"/> (ring device number = list index). Snapshots travel through
    /// <paramref name="segment"/>'s state area (null: the transport has none, and devices cannot be restored).
    /// <paramref name="lines"/> are the lines each device holds asserted, as its context notes them (null: none are noted).
    /// </summary>
    public DeviceServer(IRequestServer responder, IReadOnlyList<IDevice> devices, IReadOnlyList<string> deviceIds, RingSegment? segment, OutputForwarder output, DeviceTimers timers, UnjournaledActivity? unjournaled = null, IReadOnlyList<DeviceLineLevels>? lines = null)
    {
        _lines = lines ?? [.. devices.Select(_ => new DeviceLineLevels())];
        _timers = timers;
        _unjournaled = unjournaled;
        _responder = responder;
        _invokers = devices.Select((device, i) => new DeviceInvoker(deviceIds[i], device)).ToArray();
        _segment = segment;
        _output = output;
        _thread = new Thread(Serve) { Name = "device-server", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Whether the serving thread still runs (it ends on a stop, or when its transport closed for good).</summary>
    public bool IsServing => _thread.IsAlive;

    /// <summary>
    /// Accesses device <paramref name="device"/> was served (reads, writes, failures, accesses after gone), with
    /// <paramref name="outputBytes"/>; read them once the server stopped, or after a reply (the serving thread writes them).
    /// </summary>
    public DeviceAccessStats Stats(int device, long outputBytes) => _invokers[device].ToStats(outputBytes);

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
                    if (_unjournaled is not null && reply.Kind is MessageKind.ReadDone or MessageKind.WriteDone or MessageKind.InputTaken)
                    {
                        reply.Flags |= (ushort)_unjournaled.Take(request.Device);
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
        Span<int> due = stackalloc int[Math.Max(1, _invokers.Length)];
        int count = _timers.TakeDue(now, due);
        for (int i = 0; i < count; i++)
        {
            _invokers[due[i]].RunTimer(now);
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
            reply.Kind = request.Device < _invokers.Length ? SaveOrRestore(in request, ref reply) : MessageKind.Failed;
            return reply;
        }

        if (request.Kind == MessageKind.ReportLines)
        {
            // After a restart: the lines this device holds now (restored from its snapshot, then its replayed accesses).
            reply.Kind = request.Device < _invokers.Length ? MessageKind.ControlDone : MessageKind.Failed;
            reply.Value = request.Device < _invokers.Length ? _lines[request.Device].Asserted : 0;
            return reply;
        }

        if (request.Kind == MessageKind.ResetDevice)
        {
            reply.Kind = request.Device < _invokers.Length ? ResetDevice(request.Device) : MessageKind.Failed;
            return reply;
        }

        if (request.Kind is MessageKind.RegionsGone or MessageKind.RegionsBack && request.Device < _invokers.Length)
        {
            _invokers[request.Device].SetRegionGone(request.Region, request.Kind == MessageKind.RegionsGone);
            reply.Kind = MessageKind.ControlDone;
            return reply;
        }

        if (request.Kind == MessageKind.Input)
        {
            reply.Kind = request.Device < _invokers.Length ? Input(in request, ref reply) : MessageKind.Failed;
            return reply;
        }

        if (request.Device >= _invokers.Length || !IsAccessSize(request.AccessSize))
        {
            reply.Kind = MessageKind.Failed;
            return reply;
        }

        // Events raised by a posted write are not held for an access (there is no reply to wait for): the pump
        // applies them, and the next reply's EventsFirst makes the CPU take any still in the ring first.
        DeviceInvoker invoker = _invokers[request.Device];
        using DeviceAccessScope.Scope scope = DeviceAccessScope.Enter(AccessTime.Of(in request), awaited: request.Kind != MessageKind.PostedWrite, Replayed(in request));
        switch (request.Kind)
        {
            case MessageKind.Read:
                reply.Kind = invoker.TryRead(request.Region, request.Offset, request.AccessSize, out reply.Value) ? MessageKind.ReadDone : MessageKind.Failed;
                break;
            case MessageKind.Write:
            case MessageKind.PostedWrite:
                reply.Kind = invoker.TryWrite(request.Region, request.Offset, request.AccessSize, request.Value) ? MessageKind.WriteDone : MessageKind.Failed;
                break;
            default:
                invoker.RefuseAccess(request.Region);
                reply.Kind = MessageKind.Failed;
                break;
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
        if (count < 0)
        {
            return MessageKind.Failed;
        }

        using DeviceAccessScope.Scope scope = DeviceAccessScope.Enter(AccessTime.Of(in request), awaited: true, Replayed(in request));
        int taken = _invokers[request.Device].Input(request.Region, data[..count]);
        if (taken == DeviceInvoker.InputRefused)
        {
            return MessageKind.Failed;
        }

        reply.Value = (ulong)taken;
        return MessageKind.InputTaken;
    }

    /// <summary>A machine reset: the device back to its power-on state; a model that fails is reported, the reset answered.</summary>
    private MessageKind ResetDevice(ushort device) => _invokers[device].Reset() ? MessageKind.ControlDone : MessageKind.Failed;

    /// <summary>Saves a device's state into the state area, or restores it from there.</summary>
    private MessageKind SaveOrRestore(in RingMessage request, ref RingMessage reply)
    {
        if (_segment is null || _invokers[request.Device].Device is not ISnapshotable model)
        {
            return MessageKind.Failed;
        }

        string deviceId = _invokers[request.Device].DeviceId;
        Span<byte> area = _segment.StateArea;
        try
        {
            if (request.Kind == MessageKind.SaveState)
            {
                // A crash after this point is recovered by replaying the accesses since, which re-emits only the
                // bytes after the snapshot; those before it that the launcher may not have yet travel in it.
                (long acknowledged, byte[] unacknowledged) = _output.Unacknowledged(deviceId);
                byte[] saved = MemoryPackSerializer.Serialize(new DeviceSnapshot
                {
                    OutputOffset = acknowledged,
                    UnacknowledgedOutput = unacknowledged,
                    State = model.SaveState(),
                    AssertedLines = _lines[request.Device].Asserted,
                });
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
            _lines[request.Device].Asserted = snapshot.AssertedLines; // as the predecessor held them: no event, the CPU process still has them
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

    /// <summary>Whether <paramref name="request"/> is a journaled access replayed to this (restarted) device.</summary>
    private static bool Replayed(in RingMessage request) => ((RequestFlags)request.Flags & RequestFlags.Replayed) != 0;
}
