using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// The machine as an isolated device sees it: interrupt lines and exit requests travel through the event
/// ring to the CPU process; output goes to the launcher through the <see cref="OutputForwarder"/>.
/// </summary>
public sealed class RingDeviceContext : IDeviceContext
{
    private readonly DeviceConfig _config;
    private readonly OutputForwarder _output;
    private IRequestServer? _responder;

    /// <summary>Context for device <paramref name="config"/>; events flow once <see cref="Connect"/> was called.</summary>
    public RingDeviceContext(DeviceConfig config, OutputForwarder output)
    {
        _config = config;
        _output = output;
    }

    /// <inheritdoc/>
    public string DeviceId => _config.Id;

    /// <summary>Routes events into <paramref name="responder"/>'s event ring.</summary>
    public void Connect(IRequestServer responder) => _responder = responder;

    /// <inheritdoc/>
    public void SetIrq(bool asserted)
    {
        if (_config.Irq is int line)
        {
            _responder?.PostEvent(new RingMessage { Kind = MessageKind.IrqLevel, Flags = DeviceAccessScope.EventFlags, Offset = (ulong)line, Value = asserted ? 1UL : 0 });
        }
    }

    /// <inheritdoc/>
    public void RequestMachineExit(int exitCode, ulong guestValue) =>
        _responder?.PostEvent(new RingMessage { Kind = MessageKind.MachineExit, Flags = DeviceAccessScope.EventFlags, Value = (ulong)exitCode, Argument0 = guestValue });

    /// <inheritdoc/>
    public void Output(ReadOnlySpan<byte> data) => _output.Write(_config.Id, data);

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

    /// <summary>This device's index in its process (the ring's device number).</summary>
    public ushort DeviceIndex { get; set; }
}
