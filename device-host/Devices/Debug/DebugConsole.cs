using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Debug;

/// <summary>
/// A debug console port like QEMU's isa-debugcon: every byte the guest writes goes to the device's output
/// stream (SeaBIOS prints its log to port 0x402 this way). A read returns <see cref="ReadBackValue"/>, which is
/// how firmware tells that the port is present. Writes are posted: in a device process the guest does not wait
/// for each byte. The device has no state, so a restart loses nothing.
/// </summary>
public sealed class DebugConsole : IDeviceModel<DebugConsole>, ISnapshotable
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "debugcon";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: (int)PortCount, MmioSize: 0, IrqUse.None, CanBeConsole: true, ConfigKeys: [])
    {
        Summary = "QEMU debug console; its output is text",
        DefaultIo = DefaultPort,
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static DebugConsole Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Default I/O port (SeaBIOS's debug output port on QEMU).</summary>
    public const ushort DefaultPort = 0x402;

    /// <summary>Ports occupied.</summary>
    public const ulong PortCount = 1;

    /// <summary>What a read answers (QEMU's default readback, the historical Bochs port 0xE9).</summary>
    public const byte ReadBackValue = 0xE9;

    private readonly IDeviceContext _context;
    private readonly byte[] _buffer = new byte[1];

    /// <summary>Creates the console at the profile's I/O port (0x402 by default).</summary>
    public DebugConsole(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        // Writes are posted: a write has no effect the guest could see but the output, which is kept in order.
        // One byte-wide port (QEMU's debugcon_ops: 1..1).
        Regions = [new DeviceRegionInfo("debugcon", AddressSpaceKind.Io, config.Io ?? DefaultPort, PortCount, PostedWrites: true, MinAccessSize: 1, MaxAccessSize: 1)];
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size) => ReadBackValue;

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        // A wider write (outw) would put its low byte on this port and the rest on the next: only the low byte is ours.
        _buffer[0] = (byte)value;
        _context.Output(_buffer);
    }

    /// <inheritdoc/>
    public void Reset()
    {
    }

    /// <inheritdoc/>
    public byte[] SaveState() => [];

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        if (!state.IsEmpty)
        {
            throw new InvalidDataException("a debug console has no state");
        }
    }
}
