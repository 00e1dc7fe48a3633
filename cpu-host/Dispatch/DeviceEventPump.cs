using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// The events of one incarnation of a device process, on their way up: a thread that takes what the device posts
/// outside accesses, the queue of what it raised during an access (applied by the accessing thread before the
/// access completes), and the check of every event against what its device (untrusted) may do — its interrupt
/// lines, its grants, its regions — before the event reaches the <see cref="IDeviceEventSink"/>. Events flow one
/// way: nothing the sink does calls back here.
/// </summary>
internal sealed class DeviceEventPump : IDisposable
{
    /// <summary>Most during-access events held for the accessing thread; more is a flood, and the device is faulted.</summary>
    private const int MaxEventsForAccess = 4096;

    /// <summary>Interrupt lines a device may be granted (bits of <see cref="_heldIrqLines"/>).</summary>
    private const int LineCount = 32;

    private readonly DeviceChannel _channel;
    private readonly IRequestTransport _requester;
    private readonly IsolatedDeviceRecord[] _devices;
    private readonly IDeviceEventSink _sink;
    private readonly Thread _thread;

    /// <summary>Held while events are taken and applied, so whoever takes it next sees all earlier ones applied.</summary>
    private readonly Lock _gate = new();

    /// <summary>Events raised during an access that the pump took first; the accessing thread applies them.</summary>
    private readonly Queue<RingMessage> _forAccess = new();

    /// <summary>Set when disposed: the pump of a dead peer waits for it.</summary>
    private readonly ManualResetEventSlim _disposing = new();
    private volatile bool _disposed;

    /// <summary>Lines this incarnation holds asserted (bit n = line n), so they can be lowered when it is replaced.</summary>
    private int _heldIrqLines;

    /// <summary>Set (under the gate) once a successor or a give-up took this incarnation's lines.</summary>
    private bool _retired;

    /// <summary>Refused events so far (the first of each kind is reported).</summary>
    private long _refusedIrqEvents;
    private long _refusedEvents;

    /// <summary>Starts pumping the events <paramref name="channel"/>'s device process posts to <paramref name="requester"/>.</summary>
    public DeviceEventPump(DeviceChannel channel, IRequestTransport requester, IsolatedDeviceRecord[] devices, IDeviceEventSink sink)
    {
        _channel = channel;
        _requester = requester;
        _devices = devices;
        _sink = sink;
        _thread = new Thread(Pump) { Name = $"events-{channel.ProcessKey}-{channel.Epoch}", IsBackground = true };
        _thread.Start();
    }

    /// <summary>
    /// On the accessing thread, after a reply flagged EventsFirst: applies every event the handler raised. Events
    /// are published before the reply, and taking and applying happen under one lock, so when this returns all of
    /// them were applied (map changes deferred to just after the access's lease is released).
    /// </summary>
    public void DrainForAccess()
    {
        lock (_gate)
        {
            while (_forAccess.TryDequeue(out RingMessage held))
            {
                Deliver(in held);
            }

            while (_requester.TryTakeEvent(out RingMessage message))
            {
                Deliver(in message);
            }
        }
    }

    /// <summary>
    /// This incarnation is replaced (or given up): returns the lines it left asserted, and from now on none of its
    /// interrupt-line events is applied. Under the gate, so an event being applied right now either lands before
    /// (and its line is in the result) or is refused.
    /// </summary>
    public int Retire()
    {
        lock (_gate)
        {
            _retired = true;
            return Interlocked.Exchange(ref _heldIrqLines, 0);
        }
    }

    /// <summary>
    /// After a restart, the lines device <paramref name="device"/> reports it holds (untrusted): the ones granted to it
    /// are noted as this incarnation's, and returned; the others are dropped like any ungranted line.
    /// </summary>
    public int AdoptLines(IsolatedDeviceRecord device, uint reported)
    {
        lock (_gate)
        {
            int adopted = 0;
            for (int line = 0; line < LineCount; line++)
            {
                if ((reported & (1u << line)) != 0 && MayDrive(device, line))
                {
                    adopted |= 1 << line;
                }
            }

            Interlocked.Or(ref _heldIrqLines, adopted);
            return adopted;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        _disposing.Set();
        _thread.Join();
        _disposing.Dispose();
    }

    private void Pump()
    {
        while (!_disposed)
        {
            _requester.WaitForEvent(WaitSettings.DefaultSleepSliceMicroseconds);
            PumpPending();
            if (_requester.IsPeerDead)
            {
                PumpPending(); // what it published just before it died (a DMA's code invalidation) is taken
                _disposing.Wait(); // nothing more will come; keep idle until disposed
            }
        }
    }

    /// <summary>On the pump: applies events raised outside accesses; keeps the others for the accessing thread.</summary>
    private void PumpPending()
    {
        lock (_gate)
        {
            while (_requester.TryTakeEvent(out RingMessage message))
            {
                if (!WaitsForTheAccess(in message))
                {
                    Deliver(in message);
                }
                else if (_forAccess.Count < MaxEventsForAccess)
                {
                    _forAccess.Enqueue(message);
                }
                else
                {
                    _sink.ChannelFaulted(_channel, "event flood: too many events raised during accesses");
                    _forAccess.Clear();
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Whether an event must be applied by the accessing thread (it was raised during an access and changes what
    /// that access's completion means: a map change, an interrupt level). A DMA's code invalidation is only queued
    /// for the vCPU, safe from any thread at any time, so it never waits: a long scatter list is then no "flood".
    /// </summary>
    private static bool WaitsForTheAccess(in RingMessage message) =>
        ((EventFlags)message.Flags & EventFlags.DuringAccess) != 0 && message.Kind != MessageKind.DmaWritten;

    /// <summary>
    /// Hands one event up if its device may send it and it applies now. Events of a replayed access were applied
    /// when they first happened (a level, a train, a map change, an exit or a reset), so only a DMA's code
    /// invalidation, harmless twice, is applied again.
    /// </summary>
    private void Deliver(in RingMessage message)
    {
        IsolatedDeviceRecord? device = (uint)message.Device < (uint)_devices.Length ? _devices[message.Device] : null;
        bool replayed = _channel.Replaying;
        int line = (int)Math.Min(message.Offset, int.MaxValue);
        switch (message.Kind)
        {
            case MessageKind.IrqLevel when !replayed:
                bool asserted = message.Value != 0;
                if (MayDrive(device, line))
                {
                    NoteLevel(line, asserted);
                    _sink.InterruptLine(device!, line, asserted);
                }

                break;
            case MessageKind.PulseTrain when !replayed:
                PulseTrain train = new((long)message.Value, (long)message.Argument0, (long)message.Argument1);
                if (MayDrive(device, line) && !_sink.PulseTrain(device!, line, train))
                {
                    Refuse(in message, "with a train the machine cannot run");
                }

                break;
            case MessageKind.PulseTrainStop when !replayed:
                if (MayDrive(device, line)) // not a retired incarnation's: its successor owns the train now
                {
                    _sink.PulseTrainStopped(device!, line);
                }

                break;
            case MessageKind.DmaWritten:
                if (Granted(in message, device, device is { EventGrant: null or { BusMaster: true } }) && message.Value <= int.MaxValue)
                {
                    _sink.DmaWritten(message.Offset, (int)message.Value);
                }

                break;
            case MessageKind.MapChange when !replayed:
                if (Granted(in message, device, device is not null && message.Region < device.DeclaredRegions.Count))
                {
                    _sink.MapChange(device!, message.Region, (MapChangeKind)message.Value, message.Offset);
                }

                break;
            case MessageKind.MachineExit when !replayed:
                if (Granted(in message, device, EndsMachines(device)))
                {
                    _sink.MachineExit(device!, (int)(message.Value & 0xFF), message.Argument0);
                }

                break;
            case MessageKind.MachineReset when !replayed:
                if (Granted(in message, device, EndsMachines(device)))
                {
                    _sink.MachineReset(device!);
                }

                break;
        }
    }

    private static bool EndsMachines(IsolatedDeviceRecord? device) => device is { EventGrant: null or { EndsMachine: true } };

    /// <summary>Passes <paramref name="allowed"/> through; a refusal is counted and the first one reported.</summary>
    private bool Granted(in RingMessage message, IsolatedDeviceRecord? device, bool allowed)
    {
        if (!allowed)
        {
            Refuse(in message, $"for {(device is not null ? $"device '{device.Id}'" : $"unknown device {message.Device}")}, which it may not send");
        }

        return allowed;
    }

    /// <summary>
    /// Whether <paramref name="device"/> (untrusted; null when the message named none of this process's) may drive
    /// interrupt line <paramref name="line"/> now: the line is granted to it and this incarnation is not retired.
    /// A refusal for an ungranted line is reported the first time.
    /// </summary>
    private bool MayDrive(IsolatedDeviceRecord? device, int line)
    {
        if (_retired)
        {
            return false; // a replaced incarnation's late events must not raise a line its successor owns now
        }

        if ((uint)line >= LineCount || device is null || (device.IrqLines is { } lines && !lines.Contains(line)))
        {
            if (Interlocked.Increment(ref _refusedIrqEvents) == 1)
            {
                Console.Error.WriteLine($"device process '{_channel.ProcessKey}' (pid {_channel.ProcessId}) drove interrupt line {line}, which it was not granted; ignored");
            }

            return false;
        }

        return true;
    }

    /// <summary>Notes a granted line's level, so <see cref="Retire"/> can hand the asserted ones over.</summary>
    private void NoteLevel(int line, bool asserted)
    {
        if (asserted)
        {
            Interlocked.Or(ref _heldIrqLines, 1 << line);
        }
        else
        {
            Interlocked.And(ref _heldIrqLines, ~(1 << line));
        }
    }

    /// <summary>Drops an event (counted; the first one is reported, <paramref name="why"/> completing "sent a KIND event ...").</summary>
    private void Refuse(in RingMessage message, string why)
    {
        if (Interlocked.Increment(ref _refusedEvents) == 1)
        {
            Console.Error.WriteLine($"device process '{_channel.ProcessKey}' (pid {_channel.ProcessId}) sent a {message.Kind} event {why}; ignored");
        }
    }
}
