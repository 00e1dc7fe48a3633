using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// The machine as an isolated device sees it: interrupt lines, map changes and exit requests travel through the
/// event ring to the CPU process; output goes to the launcher through the <see cref="OutputForwarder"/>; timers
/// fire on the serving thread (<see cref="DeviceTimers"/>); DMA goes through the shared guest memory.
/// </summary>
public sealed class RingDeviceContext : IDeviceContext
{
    private readonly DeviceConfig _config;
    private readonly OutputForwarder _output;
    private readonly DeviceTimers _timers;
    private readonly IGuestMemory? _guestMemory;
    private readonly UnjournaledActivity _unjournaled;
    private IRequestServer? _responder;

    /// <summary>Context for device <paramref name="config"/>; events flow once <see cref="Connect"/> was called.</summary>
    public RingDeviceContext(DeviceConfig config, MachineFacts machine, OutputForwarder output, DeviceTimers timers, IGuestMemory? guestMemory, UnjournaledActivity unjournaled)
    {
        _unjournaled = unjournaled;
        _config = config;
        Machine = machine;
        _output = output;
        _timers = timers;
        _guestMemory = guestMemory;
    }

    /// <inheritdoc/>
    public string DeviceId => _config.Id;

    /// <inheritdoc/>
    public MachineFacts Machine { get; }

    /// <summary>This device's index in its process (the ring's device number).</summary>
    public ushort DeviceIndex { get; set; }

    /// <summary>The lines this device holds asserted (kept in its snapshot, reported after a restart).</summary>
    public DeviceLineLevels Lines { get; } = new();

    /// <inheritdoc/>
    public long NowNanoseconds => _timers.Clock.NowNanoseconds;

    /// <inheritdoc/>
    public long AccessNanoseconds => DeviceAccessScope.AccessNanoseconds(NowNanoseconds);

    /// <summary>Routes events into <paramref name="responder"/>'s event ring.</summary>
    public void Connect(IRequestServer responder) => _responder = responder;

    /// <inheritdoc/>
    public void SetIrq(bool asserted)
    {
        if (_config.Irq is int line)
        {
            SetIrqLine(line, asserted);
        }
    }

    /// <inheritdoc/>
    public void SetIrqLine(int line, bool asserted)
    {
        Lines.Set(line, asserted);
        _responder?.PostEvent(new RingMessage { Kind = MessageKind.IrqLevel, Flags = DeviceAccessScope.EventFlags, Device = DeviceIndex, Offset = (ulong)line, Value = asserted ? 1UL : 0 });
    }

    /// <inheritdoc/>
    public void SetPulseTrain(int line, PulseTrain train) =>
        _responder?.PostEvent(new RingMessage
        {
            Kind = MessageKind.PulseTrain,
            Flags = DeviceAccessScope.EventFlags,
            Device = DeviceIndex,
            Offset = (ulong)line,
            Value = (ulong)train.FirstTick,
            Argument0 = (ulong)train.PeriodTicks,
            Argument1 = (ulong)train.TicksPerSecond,
        });

    /// <inheritdoc/>
    public void CancelPulseTrain(int line) =>
        _responder?.PostEvent(new RingMessage { Kind = MessageKind.PulseTrainStop, Flags = DeviceAccessScope.EventFlags, Device = DeviceIndex, Offset = (ulong)line });

    /// <inheritdoc/>
    public void RequestMachineReset() =>
        _responder?.PostEvent(new RingMessage { Kind = MessageKind.MachineReset, Flags = DeviceAccessScope.EventFlags, Device = DeviceIndex });

    /// <inheritdoc/>
    public void RequestMachineExit(int exitCode, ulong guestValue) =>
        _responder?.PostEvent(new RingMessage { Kind = MessageKind.MachineExit, Flags = DeviceAccessScope.EventFlags, Device = DeviceIndex, Value = (ulong)exitCode, Argument0 = guestValue });

    /// <inheritdoc/>
    public void Output(ReadOnlySpan<byte> data) => _output.Write(_config.Id, data);

    /// <inheritdoc/>
    /// <remarks>
    /// The backlog is state from outside the machine (how fast the console's reader takes the bytes), which no journal
    /// holds. A device that acts on it, on its backlog in an access or on any answer in a timer (which runs between
    /// journaled accesses), has its next reply flagged <see cref="ReplyFlags.ActedOnOutsideState"/>, and the CPU
    /// snapshots it there. So every access in a journal saw its output flowing, and a replayed one is told it flows:
    /// the successor's own backlog (the replayed bytes, which the launcher drops as it has them) must not make it
    /// hold or lose bytes its predecessor sent, which would move its stream's offsets under the launcher's.
    /// </remarks>
    public bool OutputBackedUp
    {
        get
        {
            if (DeviceAccessScope.Replaying)
            {
                return false;
            }

            bool backedUp = _output.IsBackedUp(_config.Id);
            if (backedUp || !DeviceAccessScope.InAccess)
            {
                _unjournaled.ActedOnOutsideState(DeviceIndex);
            }

            return backedUp;
        }
    }

    /// <inheritdoc/>
    public void RequestMapChange(int region, MapChangeKind kind, ulong newBase = 0) =>
        _responder?.PostEvent(new RingMessage
        {
            Kind = MessageKind.MapChange,
            Flags = DeviceAccessScope.EventFlags,
            Device = DeviceIndex,
            Region = (ushort)region,
            Value = (ulong)kind,
            Offset = newBase,
        });

    /// <inheritdoc/>
    public void SetTimer(long deadlineNanoseconds) => _timers.Arm(DeviceIndex, deadlineNanoseconds);

    /// <inheritdoc/>
    public void CancelTimer() => _timers.Disarm(DeviceIndex);

    /// <inheritdoc/>
    public bool DmaRead(ulong address, Span<byte> destination)
    {
        if (_guestMemory is null || !_guestMemory.TryRead(address, destination))
        {
            return false;
        }

        _unjournaled.DidDma(DeviceIndex);
        return true;
    }

    /// <inheritdoc/>
    public bool DmaWrite(ulong address, ReadOnlySpan<byte> source)
    {
        if (_guestMemory is null || !_guestMemory.TryWrite(address, source))
        {
            return false;
        }

        _unjournaled.DidDma(DeviceIndex);
        // The CPU may hold decoded instructions from these bytes: tell it before the guest can run them.
        _responder?.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Flags = DeviceAccessScope.EventFlags, Device = DeviceIndex, Offset = address, Value = (ulong)source.Length });
        return true;
    }
}
