using SplitEmu.CpuHost.Dispatch;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Dispatch;

/// <summary>
/// The machine's side of a channel's events, for tests that play the device: every event the channel hands up is
/// passed to <see cref="Applied"/> as its kind and its address (interrupt line, DMA address, new base) or, for a
/// line, its level; faults go to <see cref="Faulted"/>.
/// </summary>
internal sealed class EventSinkSpy : IDeviceEventSink
{
    public Action<MessageKind, ulong> Applied { get; init; } = (_, _) => { };

    public Action<string> Faulted { get; init; } = _ => { };

    public void InterruptLine(IsolatedDeviceRecord device, int line, bool asserted) => Applied(MessageKind.IrqLevel, (ulong)line);

    public bool PulseTrain(IsolatedDeviceRecord device, int line, PulseTrain train)
    {
        Applied(MessageKind.PulseTrain, (ulong)line);
        return true;
    }

    public void PulseTrainStopped(IsolatedDeviceRecord device, int line) => Applied(MessageKind.PulseTrainStop, (ulong)line);

    public void DmaWritten(ulong address, int length) => Applied(MessageKind.DmaWritten, address);

    public void MapChange(IsolatedDeviceRecord device, int region, MapChangeKind kind, ulong newBase) => Applied(MessageKind.MapChange, newBase);

    public void MachineExit(IsolatedDeviceRecord device, int exitCode, ulong guestValue) => Applied(MessageKind.MachineExit, (ulong)exitCode);

    public void MachineReset(IsolatedDeviceRecord device) => Applied(MessageKind.MachineReset, 0);

    public void ChannelFaulted(DeviceChannel channel, string why) => Faulted(why);
}
