using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using MemoryPack;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Devices.Firmware;

/// <summary>
/// QEMU's firmware configuration interface (fw_cfg) on I/O ports, as SeaBIOS uses it on a pc machine: a
/// 16-bit selector, a byte-wide data port that streams the selected item, and the DMA interface.
/// </summary>
/// <remarks>
/// <para>
/// Regions: <c>ctl</c> covers 0x510-0x511 (a 16-bit write at 0x510 selects an item and rewinds it; a byte read
/// at 0x511, or at 0x510 as on QEMU's combined port, returns the next byte, 0 past the end). The two ports are
/// one region because the bus splits an access that straddles two regions into bytes, which would break the
/// 16-bit selector write. <c>dma</c> covers 0x514-0x51B, the DMA address register: a big-endian 64-bit guest
/// address, written as two 32-bit big-endian halves (high at 0x514, low at 0x518) or in one 64-bit write; the
/// write that completes the low half starts the transfer. Reads of it return "QEMU CFG".
/// </para>
/// <para>
/// A DMA transfer reads the access structure {u32 control, u32 length, u64 address} (big-endian) from guest
/// memory, performs it at once (select, read, skip; writes are refused with the error bit) and writes the
/// control word back as 0, or 1 on error. Items are read-only and built once from the machine and the
/// profile, so the only state is the selector, the offset and the DMA address register.
/// </para>
/// <para>
/// Items: the signature, the interface ID (traditional and DMA), RAM size, CPU counts, NUMA (none), boot menu
/// (off), no-graphics, UUID (zero), the x86 items SeaBIOS reads (ACPI tables and SMBIOS entries: none; IRQ 0
/// override: 1, as QEMU; legacy E820 reservations: none) and the file directory. Files, in name order from
/// selector 0x20: <c>bootorder</c>, <c>etc/boot-fail-wait</c>, <c>etc/e820</c> and <c>etc/sercon-port</c>,
/// each only when its source is there.
/// </para>
/// </remarks>
public sealed partial class FwCfg : IDeviceModel<FwCfg>, ISnapshotable
{
    /// <summary>Profile type name.</summary>
    public const string TypeName = "fw-cfg";

    /// <summary>What a profile may say about this type: the catalog's entry, declared here.</summary>
    public static DeviceTypeInfo Type { get; } = new(TypeName, PortCount: 0, MmioSize: 0, IrqUse.None, CanBeConsole: false, ConfigKeys: ["sercon-port", "bootorder", "boot-fail-wait", "nographic"])
    {
        ConfigKeyMeanings = new Dictionary<string, string>
        {
            ["sercon-port"] = "the serial port SeaBIOS uses as its screen, e.g. `0x3f8` (fw_cfg item `etc/sercon-port`)",
            ["bootorder"] = "the boot order, device paths separated by newlines (fw_cfg item `bootorder`)",
            ["boot-fail-wait"] = "milliseconds SeaBIOS waits before rebooting after a failed boot, -1 never (fw_cfg item `etc/boot-fail-wait`)",
            ["nographic"] = "`true` sets the no-graphics item: SeaBIOS then uses COM1 as its screen unless told otherwise",
        },
        Summary = "QEMU firmware configuration (selector and data, DMA address at 0x514); config values are values, not files",
        BusMaster = true,
        FixedPorts = [new(0x510, 2), new(0x514, 8)],
    };

    /// <summary>Builds the device <paramref name="config"/> describes (the catalog's factory).</summary>
    public static FwCfg Create(DeviceConfig config, IDeviceContext context) => new(config, context);

    /// <summary>Default I/O base (the selector port; the data port is base + 1, the DMA register base + 4).</summary>
    public const ushort DefaultPort = 0x510;

    /// <summary>Region index of the selector and data ports.</summary>
    public const int ControlRegion = 0;

    /// <summary>Region index of the DMA address register.</summary>
    public const int DmaRegion = 1;

    /// <summary>Config key: the serial port SeaBIOS should use as its screen (e.g. "0x3f8"); file <c>etc/sercon-port</c>.</summary>
    public const string SerconPortKey = "sercon-port";

    /// <summary>Config key: the boot order, device paths separated by newlines; file <c>bootorder</c>.</summary>
    public const string BootOrderKey = "bootorder";

    /// <summary>Config key: milliseconds SeaBIOS waits before rebooting after a failed boot (-1: never); file <c>etc/boot-fail-wait</c>.</summary>
    public const string BootFailWaitKey = "boot-fail-wait";

    /// <summary>Config key: "true" to set the no-graphics item (SeaBIOS then uses COM1 as its screen unless told otherwise).</summary>
    public const string NoGraphicsKey = "nographic";

    /// <summary>Item keys.</summary>
    public const ushort SignatureKey = 0x0000, IdKey = 0x0001, UuidKey = 0x0002, RamSizeKey = 0x0003, NoGraphicKey = 0x0004,
        CpuCountKey = 0x0005, NumaKey = 0x000D, BootMenuKey = 0x000E, MaxCpusKey = 0x000F, FileDirKey = 0x0019,
        FirstFileKey = 0x0020, AcpiTablesKey = 0x8000, SmbiosEntriesKey = 0x8001, Irq0OverrideKey = 0x8002, E820TableKey = 0x8003;

    /// <summary>DMA control bits.</summary>
    public const uint DmaError = 0x01, DmaRead = 0x02, DmaSkip = 0x04, DmaSelect = 0x08, DmaWrite = 0x10;

    /// <summary>Bytes of one file directory entry: size, select, reserved, 56 bytes of name.</summary>
    public const int FileEntrySize = 64;

    /// <summary>Bytes of one etc/e820 entry: address, length, type.</summary>
    public const int E820EntrySize = 20;

    private const int FileNameSize = 56;
    private const ushort WriteChannelBit = 0x4000; // selector bit asking for writes: ignored, items are read-only
    private const ulong FourGiB = 4UL << 30;
    private const int ZeroFillChunk = 4096;

    private static readonly byte[] s_dmaSignature = "QEMU CFG"u8.ToArray();

    private readonly IDeviceContext _context;
    private readonly Dictionary<ushort, byte[]> _items = [];

    /// <summary>The selected item's key (write-channel bit removed).</summary>
    private ushort _selector;

    /// <summary>Bytes of the selected item already read or skipped.</summary>
    private uint _offset;

    /// <summary>The DMA address register, bytes in port order (big-endian address).</summary>
    private byte[] _dmaAddress = new byte[8];

    /// <summary>Creates the interface at the profile's I/O base (0x510 by default) with items from the machine and the profile.</summary>
    /// <exception cref="ArgumentException">A config value does not parse.</exception>
    public FwCfg(DeviceConfig config, IDeviceContext context)
    {
        _context = context;
        ushort port = config.Io ?? DefaultPort;
        Regions =
        [
            // A 16-bit selector and the byte-wide data port after it (QEMU's fw_cfg_comb_valid: 2 at 0, 1 at 1).
            new DeviceRegionInfo("ctl", AddressSpaceKind.Io, port, 2, MinAccessSize: 1, MaxAccessSize: 2),
            new DeviceRegionInfo("dma", AddressSpaceKind.Io, (ulong)port + 4, 8),
        ];
        BuildItems(config.Config, context.Machine);
    }

    /// <inheritdoc/>
    public IReadOnlyList<DeviceRegionInfo> Regions { get; }

    /// <summary>File names in the directory, in selector order.</summary>
    public IReadOnlyList<string> FileNames { get; private set; } = [];

    /// <summary>DMA transfers that ended with the error bit.</summary>
    public long DmaErrors { get; private set; }

    /// <summary>The E820 map the machine reports: RAM from 0 up to 4 GiB, and any RAM beyond that above 4 GiB.</summary>
    public static byte[] BuildE820(ulong ramBytes)
    {
        ulong below4G = Math.Min(ramBytes, FourGiB);
        ulong above4G = ramBytes - below4G;
        byte[] table = new byte[(above4G > 0 ? 2 : 1) * E820EntrySize];
        WriteE820Entry(table.AsSpan(0), 0, below4G, 1);
        if (above4G > 0)
        {
            WriteE820Entry(table.AsSpan(E820EntrySize), FourGiB, above4G, 1);
        }

        return table;
    }

    /// <inheritdoc/>
    public ulong Read(int region, ulong offset, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            byte b = region == DmaRegion
                ? (offset + (ulong)i < 8 ? s_dmaSignature[(int)offset + i] : (byte)0)
                : ReadDataByte();
            value |= (ulong)b << (8 * i);
        }

        return value;
    }

    /// <inheritdoc/>
    public void Write(int region, ulong offset, int size, ulong value)
    {
        if (region == ControlRegion)
        {
            if (offset == 0 && size >= 2)
            {
                Select((ushort)value);
            }

            // Byte writes are data writes, which this read-only interface ignores (as QEMU does).
            return;
        }

        if (offset >= 8)
        {
            return;
        }

        for (int i = 0; i < size && offset + (ulong)i < 8; i++)
        {
            _dmaAddress[(int)offset + i] = (byte)(value >> (8 * i));
        }

        if (offset + (ulong)size >= 8)
        {
            ulong address = BinaryPrimitives.ReadUInt64BigEndian(_dmaAddress);
            Array.Clear(_dmaAddress); // the register is consumed: a later low-half write alone has a zero high half
            RunDma(address);
        }
    }

    /// <inheritdoc/>
    public void Reset()
    {
        _selector = 0;
        _offset = 0;
        Array.Clear(_dmaAddress);
    }

    /// <inheritdoc/>
    public byte[] SaveState() => MemoryPackSerializer.Serialize(new State
    {
        Selector = _selector,
        Offset = _offset,
        DmaAddress = [.. _dmaAddress],
    });

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        State saved;
        try
        {
            saved = MemoryPackSerializer.Deserialize<State>(state) ?? throw new InvalidDataException("empty fw_cfg state");
        }
        catch (MemoryPackSerializationException e)
        {
            throw new InvalidDataException("not a fw_cfg state", e);
        }

        if (saved.DmaAddress.Length != 8)
        {
            throw new InvalidDataException($"a fw_cfg DMA address has 8 bytes, not {saved.DmaAddress.Length}");
        }

        _selector = saved.Selector;
        _offset = saved.Offset;
        _dmaAddress = [.. saved.DmaAddress];
    }

    private void Select(ushort key)
    {
        _selector = (ushort)(key & ~WriteChannelBit);
        _offset = 0;
    }

    private ReadOnlySpan<byte> SelectedItem => _items.TryGetValue(_selector, out byte[]? item) ? item : [];

    /// <summary>Bytes of the selected item not yet read or skipped.</summary>
    private uint Remaining => _offset < SelectedItem.Length ? (uint)SelectedItem.Length - _offset : 0;

    private byte ReadDataByte()
    {
        ReadOnlySpan<byte> item = SelectedItem;
        if (_offset >= item.Length)
        {
            return 0;
        }

        return item[(int)_offset++];
    }

    private void RunDma(ulong accessAddress)
    {
        Span<byte> access = stackalloc byte[16];
        if (!_context.DmaRead(accessAddress, access))
        {
            DmaErrors++;
            return; // the structure is unreachable: there is nowhere to report the error
        }

        uint control = BinaryPrimitives.ReadUInt32BigEndian(access);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(access[4..]);
        ulong target = BinaryPrimitives.ReadUInt64BigEndian(access[8..]);

        if ((control & DmaSelect) != 0)
        {
            Select((ushort)(control >> 16));
        }

        bool ok = true;
        if ((control & DmaRead) != 0)
        {
            ok = DmaReadItem(target, length);
        }
        else if ((control & DmaWrite) != 0)
        {
            ok = false; // every item is read-only
        }
        else if ((control & DmaSkip) != 0)
        {
            _offset += Math.Min(length, Remaining);
        }

        if (!ok)
        {
            DmaErrors++;
        }

        Span<byte> done = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(done, ok ? 0 : DmaError);
        if (!_context.DmaWrite(accessAddress, done))
        {
            DmaErrors++;
        }
    }

    /// <summary>Copies up to <paramref name="length"/> bytes of the item to guest memory; bytes past its end read as zero.</summary>
    private bool DmaReadItem(ulong target, uint length)
    {
        ReadOnlySpan<byte> item = SelectedItem;
        int copied = (int)Math.Min(length, Remaining);
        if (copied > 0)
        {
            if (!_context.DmaWrite(target, item.Slice((int)_offset, copied)))
            {
                return false;
            }

            _offset += (uint)copied;
        }

        ulong zeroAt = target + (ulong)copied;
        long zeros = length - (long)copied;
        if (zeros == 0)
        {
            return true;
        }

        Span<byte> zero = stackalloc byte[ZeroFillChunk];
        zero.Clear();
        while (zeros > 0)
        {
            int chunk = (int)Math.Min(zeros, ZeroFillChunk);
            if (!_context.DmaWrite(zeroAt, zero[..chunk]))
            {
                return false;
            }

            zeroAt += (ulong)chunk;
            zeros -= chunk;
        }

        return true;
    }

    private void BuildItems(IReadOnlyDictionary<string, string> config, MachineFacts machine)
    {
        ushort cpus = (ushort)Math.Max(1, machine.CpuCount);
        _items[SignatureKey] = "QEMU"u8.ToArray();
        _items[IdKey] = LittleEndian(3u, 4); // bit 0 traditional interface, bit 1 DMA
        _items[UuidKey] = new byte[16];
        _items[RamSizeKey] = LittleEndian(machine.RamBytes, 8);
        _items[NoGraphicKey] = LittleEndian(ParseBool(config, NoGraphicsKey) ? 1u : 0u, 2);
        _items[CpuCountKey] = LittleEndian(cpus, 2);
        _items[MaxCpusKey] = LittleEndian(cpus, 2);
        _items[NumaKey] = new byte[8 * (1 + cpus)]; // no nodes, then one (zero) node per CPU
        _items[BootMenuKey] = LittleEndian(0u, 2);
        _items[AcpiTablesKey] = LittleEndian(0u, 2);
        _items[SmbiosEntriesKey] = LittleEndian(0u, 2);
        _items[Irq0OverrideKey] = LittleEndian(1u, 4);
        _items[E820TableKey] = LittleEndian(0u, 4);

        SortedDictionary<string, byte[]> files = new(StringComparer.Ordinal)
        {
            ["etc/e820"] = BuildE820(machine.RamBytes),
        };
        if (config.TryGetValue(SerconPortKey, out string? sercon))
        {
            files["etc/sercon-port"] = LittleEndian(ParsePort(sercon), 2);
        }

        if (config.TryGetValue(BootOrderKey, out string? bootOrder))
        {
            // Entries end in a newline; the whole ends in a NUL, as QEMU writes it.
            string text = bootOrder.Length == 0 || bootOrder.EndsWith('\n') ? bootOrder : bootOrder + "\n";
            files["bootorder"] = Encoding.ASCII.GetBytes(text + "\0");
        }

        if (config.TryGetValue(BootFailWaitKey, out string? wait))
        {
            if (!int.TryParse(wait, NumberStyles.Integer, CultureInfo.InvariantCulture, out int milliseconds))
            {
                throw new ArgumentException($"fw-cfg {BootFailWaitKey} '{wait}' is not a number of milliseconds", nameof(config));
            }

            files["etc/boot-fail-wait"] = LittleEndian((uint)milliseconds, 4);
        }

        byte[] directory = new byte[4 + (files.Count * FileEntrySize)];
        BinaryPrimitives.WriteUInt32BigEndian(directory, (uint)files.Count);
        List<string> names = [];
        ushort select = FirstFileKey;
        foreach ((string name, byte[] data) in files)
        {
            Span<byte> entry = directory.AsSpan(4 + (names.Count * FileEntrySize), FileEntrySize);
            BinaryPrimitives.WriteUInt32BigEndian(entry, (uint)data.Length);
            BinaryPrimitives.WriteUInt16BigEndian(entry[4..], select);
            Encoding.ASCII.GetBytes(name, entry[8..(8 + FileNameSize - 1)]); // always NUL-terminated
            _items[select] = data;
            names.Add(name);
            select++;
        }

        _items[FileDirKey] = directory;
        FileNames = names;
    }

    private static void WriteE820Entry(Span<byte> entry, ulong address, ulong length, uint type)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(entry, address);
        BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], length);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[16..], type);
    }

    private static byte[] LittleEndian(ulong value, int size)
    {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++)
        {
            bytes[i] = (byte)(value >> (8 * i));
        }

        return bytes;
    }

    private static ushort ParsePort(string text)
    {
        string trimmed = text.Trim();
        bool hex = trimmed.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (!ushort.TryParse(hex ? trimmed[2..] : trimmed, hex ? NumberStyles.HexNumber : NumberStyles.Integer, CultureInfo.InvariantCulture, out ushort port))
        {
            throw new ArgumentException($"fw-cfg {SerconPortKey} '{text}' is not an I/O port (like 0x3f8)", nameof(text));
        }

        return port;
    }

    private static bool ParseBool(IReadOnlyDictionary<string, string> config, string key) =>
        config.TryGetValue(key, out string? text) && (text.Equals("true", StringComparison.OrdinalIgnoreCase) || text == "1");

    /// <summary>The interface's saved state. Append-only: never reorder, retype or remove a member.</summary>
    [MemoryPackable]
    internal sealed partial class State
    {
        public ushort Selector { get; set; }

        public uint Offset { get; set; }

        public byte[] DmaAddress { get; set; } = [];
    }
}
