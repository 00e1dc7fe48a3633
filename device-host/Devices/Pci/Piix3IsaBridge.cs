using MemoryPack;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.DeviceHost.Sdk.Pci;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Pci;

/// <summary>
/// The PCI-to-ISA bridge function of an Intel 82371SB (PIIX3), PCI function 00:01.0: configuration space
/// only. It identifies the chipset to firmware (8086:7000, class 0x0601) and is multi-function (header type
/// 0x80), so firmware scans functions 1-7 of device 1 and finds the IDE controller at 00:01.1. It keeps the
/// registers the datasheet defines for function 0 (PIRQ routing, top of memory, X-bus chip select, APIC base,
/// SMI control...) as plain storage: nothing in this model acts on them. Interrupt routing itself happens in
/// the machine's interrupt controller; ELCR (ports 0x4D0/0x4D1) belongs to the PIC model.
/// </summary>
/// <remarks>
/// SeaBIOS writes PIRQA-D (0x60-0x63) to 10, 10, 11, 11 and then the ELCR ports; its generic PCI init writes
/// the command register (I/O, memory and SERR# enable; the first two are hard-wired to 1 on this function).
/// </remarks>
public sealed partial class Piix3IsaBridge : IDeviceModel<Piix3IsaBridge>, ISnapshotable
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "piix3-isa";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: [])
    {
        Summary = "PCI-to-ISA bridge 00:01.0, configuration space only",
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static Piix3IsaBridge Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Intel's vendor id.</summary>
    public const ushort VendorId = 0x8086;

    /// <summary>82371SB PIIX3 PCI-to-ISA bridge.</summary>
    public const ushort DeviceId = 0x7000;

    /// <summary>First PIRQ route control register (PIRQRC[A]); B, C and D follow.</summary>
    public const int PirqRouteOffset = 0x60;

    /// <summary>A PIRQ route's power-on value: routing disabled (bit 7), IRQ field 0.</summary>
    public const byte PirqRouteDisabled = 0x80;

    /// <summary>Region index of the configuration space (the only region).</summary>
    public const int ConfigRegion = 0;

    private readonly PciConfigSpace _config;

    /// <summary>Creates the bridge at 00:01.0.</summary>
    public Piix3IsaBridge(DeviceConfig config, IDeviceContext context)
    {
        _ = config;
        _ = context;
        _config = new PciConfigSpace(VendorId, DeviceId, revision: 0x00, classCode: 0x06, subclass: 0x01, programmingInterface: 0x00, headerType: 0x80);

        // PCICMD: I/O space, memory space and bus master are hard-wired on; special cycles, PERR# response
        // and SERR# enable are writable. PCISTS: medium DEVSEL timing; abort and error bits are write-1-to-clear.
        _config.DefineCommand(writableBits: 0x0148, powerOnValue: 0x0007);
        _config.DefineStatus(0x0200);

        // Function 0 registers of the PIIX3 datasheet (82371SB, section 2.2), power-on values as documented.
        _config.DefineRegister(0x4C, 1, 0x4D, 0x7F);        // IORT: ISA I/O recovery timer
        _config.DefineRegister(0x4E, 2, 0x0003, 0x07FF);    // XBCS: X-bus chip select (BIOS, keyboard, RTC, APIC)
        for (int i = 0; i < 4; i++)
        {
            _config.DefineRegister(PirqRouteOffset + i, 1, PirqRouteDisabled, 0x8F); // PIRQRC[A-D]
        }

        _config.DefineRegister(0x69, 1, 0x02, 0xFF);        // TOM: top of memory
        _config.DefineRegister(0x6A, 2, 0x0000, 0x00FF);    // MSTAT: miscellaneous status
        _config.DefineRegister(0x70, 1, 0x80, 0xEF);        // MBIRQ0: motherboard IRQ route 0
        _config.DefineRegister(0x71, 1, 0x80, 0xEF);        // MBIRQ1: motherboard IRQ route 1
        _config.DefineRegister(0x76, 1, 0x0C, 0x8F);        // MBDMA0: motherboard DMA control
        _config.DefineRegister(0x77, 1, 0x0C, 0x8F);        // MBDMA1
        _config.DefineRegister(0x78, 2, 0x0002, 0xFFFF);    // PCSC: programmable chip select
        _config.DefineRegister(0x80, 1, 0x00, 0x7F);        // APICBASE: I/O APIC base relocation
        _config.DefineRegister(0x82, 1, 0x00, 0x0F);        // DLC: deterministic latency control
        _config.DefineRegister(0xA0, 1, 0x08, 0xFF);        // SMICNTL
        _config.DefineRegister(0xA2, 2, 0x0000, 0x00FF);    // SMIEN
        _config.DefineRegister(0xA4, 4, 0x00000000, 0x0700FFFF); // SEE: system event enable
        _config.DefineRegister(0xA8, 1, 0x0F, 0xFF);        // FTMR: fast-off timer
        _config.DefineRegister(0xAA, 2, 0x0000, 0x01FF);    // SMIREQ
        _config.DefineRegister(0xAC, 1, 0x00, 0xFF);        // CTLTMR: clock scale STPCLK# low timer
        _config.DefineRegister(0xAE, 1, 0x00, 0xFF);        // CTHTMR: clock scale STPCLK# high timer

        Regions = [new DeviceRegionInfo("config", AddressSpaceKind.PciConfig, PciConfigAddress.Of(0, 1, 0), PciConfigAddress.FunctionSize)];
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>The IRQ PIRQ line <paramref name="pirq"/> (0 = A ... 3 = D) is routed to, or null while routing is disabled.</summary>
    public int? PirqRoute(int pirq)
    {
        byte route = (byte)_config.Read(PirqRouteOffset + pirq, 1);
        return (route & 0x80) != 0 ? null : route & 0x0F;
    }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size) => _config.Read((int)offset, size);

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value) => _config.Write((int)offset, size, (uint)value);

    /// <inheritdoc/>
    public void Reset() => _config.Reset();

    /// <inheritdoc/>
    public byte[] SaveState() => MemoryPackSerializer.Serialize(new State { Config = _config.SaveBytes() });

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        State saved = MemoryPackSerializer.Deserialize<State>(state) ?? throw new InvalidDataException("empty PIIX3 ISA bridge state");
        _config.RestoreBytes(saved.Config);
    }

    /// <summary>The bridge's saved state. Append-only: never reorder, retype or remove a member.</summary>
    [MemoryPackable]
    internal sealed partial class State
    {
        public byte[] Config { get; set; } = [];
    }
}
