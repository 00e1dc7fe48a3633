using MemoryPack;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.DeviceHost.Sdk.Pci;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Storage;

/// <summary>
/// The IDE function of an Intel 82371SB (PIIX3), PCI function 00:01.1 (8086:7010, class 0x0101, prog-if 0x80):
/// two ATA channels in legacy ("compatibility") mode at the ISA addresses with IRQ 14 and 15, plus bus-master
/// IDE DMA (SFF-8038i) through BAR4. Up to four ATA hard disks, each a raw image file.
/// </summary>
/// <remarks>
/// <para>Configuration keys: <c>primary-master</c>, <c>primary-slave</c>, <c>secondary-master</c>,
/// <c>secondary-slave</c>: absolute path of a raw image (size a multiple of 512). Writes go to the file.</para>
/// <para>In compatibility mode BAR0-3 are not implemented (they read 0 and cannot be sized); the legacy ports
/// always decode, as on QEMU (the real PIIX3 gates them with IDETIM bit 15, which firmware sets). BAR4 is a
/// 16-port I/O BAR; the bus-master region is plugged hidden and shown at the BAR's address once the guest has
/// programmed it and set the command register's I/O space bit.</para>
/// <para>Regions, by index: <see cref="ConfigRegion"/> .. <see cref="BusMasterRegion"/>.</para>
/// </remarks>
public sealed class Piix3Ide : IDeviceModel<Piix3Ide>, ISnapshotable, IDisposable
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "piix3-ide";

    /// <summary>Intel's vendor id.</summary>
    public const ushort VendorId = 0x8086;

    /// <summary>82371SB PIIX3 IDE.</summary>
    public const ushort DeviceId = 0x7010;

    /// <summary>Programming interface: bus-master capable, both channels fixed in compatibility mode.</summary>
    public const byte ProgrammingInterface = 0x80;

    /// <summary>The BAR that holds the bus-master registers.</summary>
    public const int BusMasterBar = 4;

    /// <summary>Ports of the bus-master registers (8 per channel).</summary>
    public const uint BusMasterPorts = 16;

    /// <summary>Configuration keys of the four drive positions, in position order.</summary>
    public static readonly IReadOnlyList<string> DriveKeys = ["primary-master", "primary-slave", "secondary-master", "secondary-slave"];

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: DriveKeys)
    {
        ConfigKeyMeanings = DriveKeys.ToDictionary(k => k, k => $"raw disk image of the {k.Replace('-', ' ')} drive"),
        Summary = "IDE controller 00:01.1, legacy mode, bus-master DMA at BAR4",
        FileKeys = DriveKeys,
        DiskSectorBytes = 512,
        BusMaster = true,
        FixedPorts = [new(0x1F0, 8), new(0x3F6, 1), new(0x170, 8), new(0x376, 1)],
        FixedIrqs = [14, 15],
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static Piix3Ide Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Region index: configuration space at 00:01.1.</summary>
    public const int ConfigRegion = 0;

    /// <summary>Region index: primary command block, ports 0x1F0-0x1F7.</summary>
    public const int PrimaryCommandRegion = 1;

    /// <summary>Region index: primary control block, port 0x3F6 (alternate status / device control).</summary>
    public const int PrimaryControlRegion = 2;

    /// <summary>Region index: secondary command block, ports 0x170-0x177.</summary>
    public const int SecondaryCommandRegion = 3;

    /// <summary>Region index: secondary control block, port 0x376.</summary>
    public const int SecondaryControlRegion = 4;

    /// <summary>Region index: bus-master registers at BAR4 (starts hidden).</summary>
    public const int BusMasterRegion = 5;

    /// <summary>Primary channel's ISA interrupt.</summary>
    public const int PrimaryIrq = 14;

    /// <summary>Secondary channel's ISA interrupt.</summary>
    public const int SecondaryIrq = 15;

    /// <summary>IDETIM (0x40 primary, 0x42 secondary): IDE timing; bit 15 is "decode enable".</summary>
    private const int IdeTimingOffset = 0x40;

    /// <summary>SIDETIM: slave IDE timing.</summary>
    private const int SlaveTimingOffset = 0x44;

    private readonly IDeviceContext _context;
    private readonly PciConfigSpace _config;
    private readonly AtaDisk?[] _disks = new AtaDisk?[4];
    private readonly IdeChannel[] _channels;

    /// <summary>Whether the bus-master region is shown in the I/O map (what the map was last asked).</summary>
    private bool _busMasterVisible;

    /// <summary>Where the bus-master region was last moved to (0 = never moved).</summary>
    private ulong _busMasterBase;

    /// <summary>Creates the controller and opens the configured images.</summary>
    /// <exception cref="ArgumentException">An image path is not absolute, cannot be opened, or its size is not a multiple of 512.</exception>
    public Piix3Ide(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        _config = new PciConfigSpace(VendorId, DeviceId, revision: 0x00, classCode: 0x01, subclass: 0x01, ProgrammingInterface);

        // PCICMD: I/O space and bus master enable are the only writable bits. PCISTS: fast back-to-back
        // capable, medium DEVSEL; target/master abort bits are write-1-to-clear.
        _config.DefineCommand(writableBits: PciConfigSpace.CommandIoSpace | PciConfigSpace.CommandBusMaster);
        _config.DefineStatus(0x0280, writeOneToClearBits: 0x3800);
        _config.DefineRegister(0x0D, 1, 0x00, 0xF0);                  // MLT: master latency timer
        _config.DefineBar(BusMasterBar, PciBarKind.Io, BusMasterPorts);
        _config.DefineRegister(IdeTimingOffset, 2, 0x0000, 0xF377);   // IDETIM primary
        _config.DefineRegister(IdeTimingOffset + 2, 2, 0x0000, 0xF377); // IDETIM secondary
        _config.DefineRegister(SlaveTimingOffset, 1, 0x00, 0xFF);     // SIDETIM

        try
        {
            for (int i = 0; i < DriveKeys.Count; i++)
            {
                if (config.Config.TryGetValue(DriveKeys[i], out string? path) && !string.IsNullOrEmpty(path))
                {
                    _disks[i] = new AtaDisk(DriveKeys[i], path, i);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        byte[] dmaScratch = new byte[0x1_0000];
        _channels =
        [
            new IdeChannel(context, PrimaryIrq, _disks[0], _disks[1], _config, dmaScratch),
            new IdeChannel(context, SecondaryIrq, _disks[2], _disks[3], _config, dmaScratch),
        ];

        Regions =
        [
            new DeviceRegionInfo("config", AddressSpaceKind.PciConfig, PciConfigAddress.Of(0, 1, 1), PciConfigAddress.FunctionSize),
            // The command block holds the data port (2 or 4 bytes, as QEMU's ide_portio_list) and byte registers in one
            // region, so it takes 1..4 and the channel decodes the width; the control port is a byte (1..1).
            new DeviceRegionInfo("primary", AddressSpaceKind.Io, 0x1F0, 8, PostedWrites: true, MinAccessSize: 1, MaxAccessSize: 4),
            new DeviceRegionInfo("primary-control", AddressSpaceKind.Io, 0x3F6, 1, MinAccessSize: 1, MaxAccessSize: 1),
            new DeviceRegionInfo("secondary", AddressSpaceKind.Io, 0x170, 8, PostedWrites: true, MinAccessSize: 1, MaxAccessSize: 4),
            new DeviceRegionInfo("secondary-control", AddressSpaceKind.Io, 0x376, 1, MinAccessSize: 1, MaxAccessSize: 1),
            new DeviceRegionInfo("bus-master", AddressSpaceKind.Io, 0, BusMasterPorts, StartsDisabled: true),
        ];
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        int at = (int)offset;
        return region switch
        {
            ConfigRegion => _config.Read(at, size),
            PrimaryCommandRegion => _channels[0].ReadCommandBlock(at, size),
            PrimaryControlRegion => _channels[0].ReadAlternateStatus(),
            SecondaryCommandRegion => _channels[1].ReadCommandBlock(at, size),
            SecondaryControlRegion => _channels[1].ReadAlternateStatus(),
            BusMasterRegion => ReadBusMaster(at, size),
            _ => 0,
        };
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        int at = (int)offset;
        switch (region)
        {
            case ConfigRegion:
                PciConfigChanges changes = _config.Write(at, size, (uint)value);
                if ((changes & (PciConfigChanges.Command | PciConfigChanges.Bar4)) != 0)
                {
                    UpdateBusMasterMapping();
                }

                break;
            case PrimaryCommandRegion:
                _channels[0].WriteCommandBlock(at, size, value);
                break;
            case PrimaryControlRegion:
                _channels[0].WriteDeviceControl((byte)value);
                break;
            case SecondaryCommandRegion:
                _channels[1].WriteCommandBlock(at, size, value);
                break;
            case SecondaryControlRegion:
                _channels[1].WriteDeviceControl((byte)value);
                break;
            case BusMasterRegion:
                for (int i = 0; i < size && at + i < BusMasterPorts; i++)
                {
                    int port = at + i;
                    _channels[port >> 3].WriteBusMaster(port & 7, (byte)(value >> (8 * i)));
                }

                break;
        }
    }

    /// <inheritdoc/>
    public void Reset()
    {
        _config.Reset();
        UpdateBusMasterMapping();
        foreach (IdeChannel channel in _channels)
        {
            channel.Reset(powerOn: false);
        }
    }

    /// <inheritdoc/>
    public byte[] SaveState() => MemoryPackSerializer.Serialize(new Piix3IdeState
    {
        Config = _config.SaveBytes(),
        BusMasterVisible = _busMasterVisible,
        BusMasterBase = _busMasterBase,
        Channels = [_channels[0].Save(), _channels[1].Save()],
    });

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        Piix3IdeState saved;
        try
        {
            saved = MemoryPackSerializer.Deserialize<Piix3IdeState>(state) ?? throw new InvalidDataException("empty PIIX3 IDE state");
        }
        catch (MemoryPackSerializationException e)
        {
            throw new InvalidDataException("not a PIIX3 IDE state", e);
        }

        if (saved.Channels.Length != _channels.Length)
        {
            throw new InvalidDataException("PIIX3 IDE state has the wrong number of channels");
        }

        _config.RestoreBytes(saved.Config);
        for (int i = 0; i < _channels.Length; i++)
        {
            _channels[i].Restore(saved.Channels[i]);
        }

        // The map keeps the region's place and visibility across a restart; remember what it was told.
        _busMasterVisible = saved.BusMasterVisible;
        _busMasterBase = saved.BusMasterBase;
    }

    /// <summary>Closes the image files.</summary>
    public void Dispose()
    {
        foreach (AtaDisk? disk in _disks)
        {
            disk?.Dispose();
        }
    }

    private ulong ReadBusMaster(int offset, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size && offset + i < BusMasterPorts; i++)
        {
            int port = offset + i;
            value |= (ulong)_channels[port >> 3].ReadBusMaster(port & 7) << (8 * i);
        }

        return value;
    }

    /// <summary>Shows the bus-master region at BAR4 while it decodes, hides it otherwise (applied before the guest's next instruction).</summary>
    private void UpdateBusMasterMapping()
    {
        if (_config.TryGetDecodedBar(BusMasterBar, out ulong address))
        {
            if (address != _busMasterBase)
            {
                _context.RequestMapChange(BusMasterRegion, MapChangeKind.Move, address);
                _busMasterBase = address;
            }

            if (!_busMasterVisible)
            {
                _context.RequestMapChange(BusMasterRegion, MapChangeKind.Enable);
                _busMasterVisible = true;
            }
        }
        else if (_busMasterVisible)
        {
            _context.RequestMapChange(BusMasterRegion, MapChangeKind.Disable);
            _busMasterVisible = false;
        }
    }
}
