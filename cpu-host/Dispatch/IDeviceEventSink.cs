using SplitEmu.DeviceHost.Sdk;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// What the events of an isolated device do to the machine. Its channel's <see cref="DeviceEventPump"/> calls these
/// only for events the device may send (its grants, its lines, its regions) and that apply now (not replayed), so an
/// implementation applies them and never calls back into the channel to ask.
/// </summary>
public interface IDeviceEventSink
{
    /// <summary><paramref name="device"/> drove interrupt line <paramref name="line"/> (one granted to it).</summary>
    void InterruptLine(IsolatedDeviceRecord device, int line, bool asserted);

    /// <summary>
    /// <paramref name="device"/> handed the machine a periodic interrupt on <paramref name="line"/>; false when the
    /// machine cannot run that train (the event is then refused and reported).
    /// </summary>
    bool PulseTrain(IsolatedDeviceRecord device, int line, PulseTrain train);

    /// <summary><paramref name="device"/> stopped its pulse train on <paramref name="line"/>.</summary>
    void PulseTrainStopped(IsolatedDeviceRecord device, int line);

    /// <summary>A bus master wrote <paramref name="length"/> bytes of guest RAM at <paramref name="address"/>.</summary>
    void DmaWritten(ulong address, int length);

    /// <summary><paramref name="device"/> asks to change its region <paramref name="region"/> (one it declared).</summary>
    void MapChange(IsolatedDeviceRecord device, int region, MapChangeKind kind, ulong newBase);

    /// <summary>A device that may end the machine ends it with <paramref name="exitCode"/>.</summary>
    void MachineExit(IsolatedDeviceRecord device, int exitCode, ulong guestValue);

    /// <summary>A device that may end the machine resets it.</summary>
    void MachineReset(IsolatedDeviceRecord device);

    /// <summary>
    /// <paramref name="channel"/>'s process must be stopped for <paramref name="why"/> (a hung handler, a broken
    /// protocol, an event flood), before any lease it holds is released.
    /// </summary>
    void ChannelFaulted(DeviceChannel channel, string why);
}
