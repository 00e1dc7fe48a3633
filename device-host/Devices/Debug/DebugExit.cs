using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Debug;

/// <summary>
/// Ends the machine when the guest writes to it, like QEMU's isa-debug-exit: the exit code is
/// <c>(value &lt;&lt; 1) | 1</c>. One I/O port; reads return all ones.
/// </summary>
public sealed class DebugExit : IDevice
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "debug-exit";

    /// <summary>Ports occupied.</summary>
    public const ulong PortCount = 1;

    private readonly IDeviceContext _context;

    /// <summary>Creates the device at the profile's I/O base.</summary>
    public DebugExit(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        Regions = [new DeviceRegionInfo("exit", AddressSpaceKind.Io, config.Io ?? 0x501, PortCount)];
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size) => ulong.MaxValue;

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value) =>
        _context.RequestMachineExit(ExitCodes.FromDebugExit(value), value);

    /// <inheritdoc/>
    public void Reset()
    {
    }
}
