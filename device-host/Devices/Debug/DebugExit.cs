using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Debug;

/// <summary>
/// Ends the machine when the guest writes to it, like QEMU's isa-debug-exit: the exit code is
/// <c>(value &lt;&lt; 1) | 1</c>. One I/O port; reads return all ones.
/// </summary>
public sealed class DebugExit : IDeviceModel<DebugExit>
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "debug-exit";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: (int)PortCount, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "QEMU's isa-debug-exit: a write of V ends the machine with exit code 2V+1",
        EndsMachine = true,
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static DebugExit Create(DeviceConfig config, IDeviceContext context) => new(config, context);

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
