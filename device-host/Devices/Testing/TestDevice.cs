using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Testing;

/// <summary>
/// A device for testing the machine itself (like QEMU's pc-testdev): it counts its accesses, changes its own
/// region from inside its handler on request (the BAR-reprogramming case of the memory-map rules), and can
/// stall its handler (a hung device), or attack its own process's sandbox (<see cref="SandboxProbe"/>). Sixteen I/O ports (or bytes of MMIO); 32-bit registers at 4-byte offsets.
/// </summary>
public sealed class TestDevice : IDeviceModel<TestDevice>, ISnapshotable
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "testdev";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: 16, MmioSize: 0, IrqUse.Optional, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "for tests: counts accesses, moves its own region on request, can stall",
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static TestDevice Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Size of the region in ports or bytes.</summary>
    public const ulong RegionSize = 16;

    /// <summary>Register offsets.</summary>
    public const ulong CounterRegister = 0, MapChangeRegister = 4, NewBaseRegister = 8, StallRegister = 12;

    /// <summary>
    /// Values for <see cref="MapChangeRegister"/> that make the device misbehave on command, as an exploited
    /// device would, through the ordinary device context: ask to end the machine (which a testdev may not), or to
    /// change a region it does not have.
    /// </summary>
    public const ulong ForgeMachineExit = 0x100, ForgeForeignRegionChange = 0x101;

    /// <summary>
    /// <see cref="MapChangeRegister"/> values from here run <see cref="SandboxProbe"/> probe (value - this) with the
    /// value last written to offset 8 as its argument; offset 8 then reads the probe's result.
    /// </summary>
    public const ulong RunProbe = 0x200;

    /// <summary><see cref="MapChangeRegister"/> values that drive the device's interrupt line (its profile's <c>irq</c>) low or high.</summary>
    public const ulong LowerIrq = 0x110, RaiseIrq = 0x111;

    private readonly IDeviceContext _context;
    private uint _accesses;
    private ulong _newBase;

    /// <summary>Creates the device at the profile's I/O base, or its MMIO base if it has no I/O base.</summary>
    public TestDevice(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        // Writes are posted, except the two whose effect the guest's next instruction must see.
        IReadOnlyList<ulong> synchronous = [MapChangeRegister, StallRegister];
        Regions = config.Io is ushort port || config.Mmio is null
            ? [new DeviceRegionInfo("regs", AddressSpaceKind.Io, config.Io ?? 0x510, RegionSize, PostedWrites: true, synchronous)]
            : [new DeviceRegionInfo("regs", AddressSpaceKind.Memory, config.Mmio.Value, RegionSize, PostedWrites: true, synchronous)];
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>
    /// Reads: offset 0 returns the number of accesses so far (this one included); offset 8 the pending new base;
    /// others return the offset itself, so a test can tell which register answered.
    /// </summary>
    public ulong Read(int region, ulong offset, int size)
    {
        _accesses++;
        return offset switch
        {
            CounterRegister => _accesses,
            NewBaseRegister => _newBase,
            _ => offset,
        };
    }

    /// <summary>
    /// Writes: offset 4 asks for a map change of region 0 (value = <see cref="MapChangeKind"/>; a move goes to the
    /// base last written to offset 8) or forges an event (<see cref="ForgeMachineExit"/>), or drives its line (<see cref="RaiseIrq"/>); offset 12 stalls the handler for value milliseconds; others are counted only.
    /// </summary>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        _accesses++;
        switch (offset)
        {
            case MapChangeRegister when value == ForgeMachineExit:
                _context.RequestMachineExit(0, value);
                break;
            case MapChangeRegister when value == ForgeForeignRegionChange:
                _context.RequestMapChange(7, MapChangeKind.Disable);
                break;
            case MapChangeRegister when value is LowerIrq or RaiseIrq:
                _context.SetIrq(value == RaiseIrq);
                break;
            case MapChangeRegister when value >= RunProbe:
                _newBase = SandboxProbe.Run((SandboxProbe.Kind)(value - RunProbe), _newBase);
                break;
            case MapChangeRegister:
                _context.RequestMapChange(0, (MapChangeKind)value, _newBase);
                break;
            case NewBaseRegister:
                _newBase = value;
                break;
            case StallRegister:
                Thread.Sleep(TimeSpan.FromMilliseconds(value));
                break;
        }
    }

    /// <inheritdoc/>
    public byte[] SaveState()
    {
        byte[] state = new byte[12];
        BitConverter.TryWriteBytes(state, _accesses);
        BitConverter.TryWriteBytes(state.AsSpan(4), _newBase);
        return state;
    }

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length != 12)
        {
            throw new InvalidDataException($"testdev state has 12 bytes, got {state.Length}");
        }

        _accesses = BitConverter.ToUInt32(state);
        _newBase = BitConverter.ToUInt64(state[4..]);
    }

    /// <inheritdoc/>
    public void Reset()
    {
        _accesses = 0;
        _newBase = 0;
    }
}
