using System.Buffers.Binary;

namespace SplitEmu.DeviceHost.Sdk.Pci;

/// <summary>
/// The 256-byte configuration space of one PCI function with a type-0 header (PCI Local Bus spec 3.0,
/// chapter 6). Every byte has a write mask (which bits the guest may change) and a write-1-to-clear mask
/// (status bits the guest clears by writing 1); everything else is read-only. Base address registers follow
/// the sizing protocol: the bits below the BAR's size and the type bits are read-only, so writing all ones
/// and reading back gives <c>~(size - 1) | type</c>.
/// </summary>
/// <remarks>
/// The owning device defines its registers once, in its constructor (ids, BARs, device-specific registers);
/// those definitions are also the power-on image that <see cref="Reset"/> goes back to. Guest accesses go
/// through <see cref="Read"/> and <see cref="Write"/> with any size 1, 2 or 4 at any byte offset (the host
/// bridge forwards <c>inw 0xCFE</c> as offset + 2, size 2). <see cref="Write"/> reports what changed, so the
/// owner knows when to move or show its BAR regions. Only the bytes are guest-visible state:
/// <see cref="SaveBytes"/> and <see cref="RestoreBytes"/> are all a snapshot needs.
/// </remarks>
public sealed class PciConfigSpace
{
    /// <summary>Bytes of configuration space of a conventional PCI function.</summary>
    public const int Size = 256;

    /// <summary>Number of base address registers of a type-0 header.</summary>
    public const int BarCount = 6;

    /// <summary>Offset of the vendor id.</summary>
    public const int VendorIdOffset = 0x00;

    /// <summary>Offset of the device id.</summary>
    public const int DeviceIdOffset = 0x02;

    /// <summary>Offset of the command register.</summary>
    public const int CommandOffset = 0x04;

    /// <summary>Offset of the status register.</summary>
    public const int StatusOffset = 0x06;

    /// <summary>Offset of the revision id; the class code (prog-if, subclass, base class) follows.</summary>
    public const int RevisionOffset = 0x08;

    /// <summary>Offset of the header type.</summary>
    public const int HeaderTypeOffset = 0x0E;

    /// <summary>Offset of BAR 0; BAR n is at <c>0x10 + 4n</c>.</summary>
    public const int Bar0Offset = 0x10;

    /// <summary>Offset of the subsystem vendor id.</summary>
    public const int SubsystemVendorIdOffset = 0x2C;

    /// <summary>Offset of the interrupt line (written by firmware, meaningless to the device).</summary>
    public const int InterruptLineOffset = 0x3C;

    /// <summary>Offset of the interrupt pin (1 = INTA# ... 4 = INTD#, 0 = none).</summary>
    public const int InterruptPinOffset = 0x3D;

    /// <summary>Command bit: the function decodes its I/O BARs.</summary>
    public const ushort CommandIoSpace = 1 << 0;

    /// <summary>Command bit: the function decodes its memory BARs.</summary>
    public const ushort CommandMemorySpace = 1 << 1;

    /// <summary>Command bit: the function may master the bus (DMA).</summary>
    public const ushort CommandBusMaster = 1 << 2;

    /// <summary>Command bit: SERR# driver enable.</summary>
    public const ushort CommandSerr = 1 << 8;

    /// <summary>Status bits that are write-1-to-clear error reports (bits 8 and 11-15).</summary>
    public const ushort StatusErrorBits = 0xF900;

    /// <summary>Highest I/O port a BAR may decode (the x86 I/O space is 64 KiB).</summary>
    private const ulong IoSpaceEnd = 0x1_0000;

    /// <summary>The guest-visible bytes.</summary>
    private readonly byte[] _bytes = new byte[Size];

    /// <summary>Power-on value of every byte (what the definitions set).</summary>
    private readonly byte[] _powerOn = new byte[Size];

    /// <summary>Bits the guest may change, per byte.</summary>
    private readonly byte[] _writable = new byte[Size];

    /// <summary>Bits a guest write of 1 clears, per byte.</summary>
    private readonly byte[] _writeOneToClear = new byte[Size];

    /// <summary>Bytes each defined BAR decodes (0 = not implemented).</summary>
    private readonly uint[] _barSizes = new uint[BarCount];

    private readonly PciBarKind[] _barKinds = new PciBarKind[BarCount];

    /// <summary>Creates a function's space with its identity; command and status start at 0, nothing else is writable yet.</summary>
    /// <param name="vendorId">Vendor id (0x8086 for Intel).</param>
    /// <param name="deviceId">Device id.</param>
    /// <param name="revision">Revision id.</param>
    /// <param name="classCode">Base class (0x01 mass storage, 0x06 bridge).</param>
    /// <param name="subclass">Subclass (0x01 IDE, 0x01 ISA bridge).</param>
    /// <param name="programmingInterface">Programming interface (prog-if).</param>
    /// <param name="headerType">Header type; bit 7 says the device has more functions than 0.</param>
    public PciConfigSpace(ushort vendorId, ushort deviceId, byte revision, byte classCode, byte subclass, byte programmingInterface, byte headerType = 0)
    {
        DefineRegister(VendorIdOffset, 2, vendorId, 0);
        DefineRegister(DeviceIdOffset, 2, deviceId, 0);
        DefineRegister(RevisionOffset, 1, revision, 0);
        DefineRegister(RevisionOffset + 1, 1, programmingInterface, 0);
        DefineRegister(RevisionOffset + 2, 1, subclass, 0);
        DefineRegister(RevisionOffset + 3, 1, classCode, 0);
        DefineRegister(HeaderTypeOffset, 1, headerType, 0);
        DefineRegister(InterruptLineOffset, 1, 0, 0xFF);
    }

    /// <summary>The command register now.</summary>
    public ushort Command => BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(CommandOffset));

    /// <summary>The status register now.</summary>
    public ushort Status => BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(StatusOffset));

    /// <summary>Whether the guest enabled I/O decoding.</summary>
    public bool IoSpaceEnabled => (Command & CommandIoSpace) != 0;

    /// <summary>Whether the guest enabled memory decoding.</summary>
    public bool MemorySpaceEnabled => (Command & CommandMemorySpace) != 0;

    /// <summary>Whether the guest allows the function to master the bus.</summary>
    public bool BusMasterEnabled => (Command & CommandBusMaster) != 0;

    /// <summary>The <see cref="PciConfigChanges"/> bit of BAR <paramref name="index"/>.</summary>
    public static PciConfigChanges BarChange(int index) => (PciConfigChanges)((int)PciConfigChanges.Bar0 << index);

    /// <summary>Defines a register of 1, 2 or 4 bytes: its power-on value and the bits the guest may write.</summary>
    /// <param name="offset">Byte offset in the space.</param>
    /// <param name="size">1, 2 or 4.</param>
    /// <param name="powerOnValue">Value after power-on and <see cref="Reset"/>.</param>
    /// <param name="writableMask">Bits the guest may change.</param>
    /// <param name="writeOneToClearMask">Bits the guest clears by writing 1 (must not overlap <paramref name="writableMask"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">The register does not fit in the space, or the size is not 1, 2 or 4.</exception>
    /// <exception cref="ArgumentException">The two masks overlap.</exception>
    public void DefineRegister(int offset, int size, uint powerOnValue, uint writableMask, uint writeOneToClearMask = 0)
    {
        CheckRegister(offset, size);
        if ((writableMask & writeOneToClearMask) != 0)
        {
            throw new ArgumentException($"register 0x{offset:x2}: bits 0x{writableMask & writeOneToClearMask:x} are both writable and write-1-to-clear", nameof(writeOneToClearMask));
        }

        for (int i = 0; i < size; i++)
        {
            int shift = 8 * i;
            _powerOn[offset + i] = _bytes[offset + i] = (byte)(powerOnValue >> shift);
            _writable[offset + i] = (byte)(writableMask >> shift);
            _writeOneToClear[offset + i] = (byte)(writeOneToClearMask >> shift);
        }
    }

    /// <summary>Sets which command bits the guest may change, and their power-on value.</summary>
    public void DefineCommand(ushort writableBits, ushort powerOnValue = 0) => DefineRegister(CommandOffset, 2, powerOnValue, writableBits);

    /// <summary>Sets the status register's power-on value (capability bits, DEVSEL timing) and its write-1-to-clear bits.</summary>
    public void DefineStatus(ushort powerOnValue, ushort writeOneToClearBits = StatusErrorBits) =>
        DefineRegister(StatusOffset, 2, powerOnValue, 0, writeOneToClearBits);

    /// <summary>Sets the subsystem vendor and subsystem ids (read-only).</summary>
    public void DefineSubsystem(ushort subsystemVendorId, ushort subsystemId)
    {
        DefineRegister(SubsystemVendorIdOffset, 2, subsystemVendorId, 0);
        DefineRegister(SubsystemVendorIdOffset + 2, 2, subsystemId, 0);
    }

    /// <summary>Sets the interrupt pin (1-4 for INTA#-INTD#, 0 for none).</summary>
    public void DefineInterruptPin(byte pin) => DefineRegister(InterruptPinOffset, 1, pin, 0);

    /// <summary>
    /// Implements BAR <paramref name="index"/>: <paramref name="size"/> bytes (a power of two, at least 4 for I/O
    /// and 16 for memory) of <paramref name="kind"/> space. Its address starts at 0 (not decoded).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The index or size is not valid.</exception>
    public void DefineBar(int index, PciBarKind kind, uint size, bool prefetchable = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, BarCount);
        uint minimum = kind == PciBarKind.Io ? 4u : 16u;
        if (size < minimum || !uint.IsPow2(size))
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"a {kind} BAR's size must be a power of two of at least {minimum}");
        }

        uint typeBits = kind == PciBarKind.Io ? 0x1u : (prefetchable ? 0x8u : 0x0u);
        uint typeMask = kind == PciBarKind.Io ? 0x3u : 0xFu;
        _barSizes[index] = size;
        _barKinds[index] = kind;
        DefineRegister(Bar0Offset + (4 * index), 4, typeBits, ~(size - 1) & ~typeMask);
    }

    /// <summary>The size of BAR <paramref name="index"/>, or 0 when the function does not implement it.</summary>
    public uint BarSize(int index) => _barSizes[index];

    /// <summary>The kind of BAR <paramref name="index"/> (meaningful when <see cref="BarSize"/> is not 0).</summary>
    public PciBarKind BarKind(int index) => _barKinds[index];

    /// <summary>The address programmed into BAR <paramref name="index"/> (type bits removed).</summary>
    public uint BarAddress(int index)
    {
        uint raw = BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(Bar0Offset + (4 * index)));
        return raw & (_barKinds[index] == PciBarKind.Io ? ~0x3u : ~0xFu);
    }

    /// <summary>
    /// Whether BAR <paramref name="index"/> decodes now, and where: it is implemented, its space is enabled in the
    /// command register, and its address is not 0 (firmware's "unassigned") and lies wholly inside its space (the
    /// all-ones left by sizing does not). Owners map their region at <paramref name="address"/> when true.
    /// </summary>
    public bool TryGetDecodedBar(int index, out ulong address)
    {
        address = BarAddress(index);
        uint size = _barSizes[index];
        if (size == 0 || address == 0)
        {
            return false;
        }

        return _barKinds[index] == PciBarKind.Io
            ? IoSpaceEnabled && address + size <= IoSpaceEnd
            : MemorySpaceEnabled && address + size <= 1UL << 32;
    }

    /// <summary>Reads <paramref name="size"/> (1, 2 or 4) bytes at <paramref name="offset"/>, little-endian; bytes past the end read 0.</summary>
    public uint Read(int offset, int size)
    {
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            int at = offset + i;
            if (at is >= 0 and < Size)
            {
                value |= (uint)_bytes[at] << (8 * i);
            }
        }

        return value;
    }

    /// <summary>
    /// A guest write of <paramref name="size"/> (1, 2 or 4) bytes of <paramref name="value"/> at
    /// <paramref name="offset"/>: writable bits take the new value, write-1-to-clear bits clear where 1 is
    /// written, the rest keeps its value. Bytes past the end are dropped.
    /// </summary>
    /// <returns>What changed, so the owner can move or show its regions.</returns>
    public PciConfigChanges Write(int offset, int size, uint value)
    {
        PciConfigChanges changes = PciConfigChanges.None;
        for (int i = 0; i < size; i++)
        {
            int at = offset + i;
            if (at is < 0 or >= Size)
            {
                continue;
            }

            byte written = (byte)(value >> (8 * i));
            byte old = _bytes[at];
            byte updated = (byte)((old & ~_writable[at]) | (written & _writable[at]));
            updated &= (byte)~(written & _writeOneToClear[at]);
            if (updated == old)
            {
                continue;
            }

            _bytes[at] = updated;
            changes |= ChangeOf(at);
        }

        return changes;
    }

    /// <summary>Back to the power-on image of the definitions.</summary>
    public void Reset() => _powerOn.CopyTo(_bytes, 0);

    /// <summary>Sets write-1-to-clear or read-only status bits from the device side (e.g. "received master abort").</summary>
    public void SetStatusBits(ushort bits)
    {
        ushort status = (ushort)(Status | bits);
        BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(StatusOffset), status);
    }

    /// <summary>A copy of the guest-visible bytes, for a snapshot.</summary>
    public byte[] SaveBytes() => (byte[])_bytes.Clone();

    /// <summary>Restores bytes from <see cref="SaveBytes"/>.</summary>
    /// <exception cref="InvalidDataException">The span is not <see cref="Size"/> bytes.</exception>
    public void RestoreBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new InvalidDataException($"PCI configuration space state is {bytes.Length} bytes, expected {Size}");
        }

        bytes.CopyTo(_bytes);
    }

    private static PciConfigChanges ChangeOf(int offset) => offset switch
    {
        CommandOffset or CommandOffset + 1 => PciConfigChanges.Command,
        >= Bar0Offset and < Bar0Offset + (4 * BarCount) => BarChange((offset - Bar0Offset) / 4),
        _ => PciConfigChanges.Other,
    };

    private static void CheckRegister(int offset, int size)
    {
        if (size is not (1 or 2 or 4))
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "a register is 1, 2 or 4 bytes");
        }

        if (offset < 0 || offset + size > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"a {size}-byte register must lie within the {Size}-byte space");
        }
    }
}
