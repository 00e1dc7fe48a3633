using System.Buffers.Binary;
using System.Text;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The few ACPI Machine Language encodings the loader's DSDT needs (ACPI 6.4, section 20): names, scopes,
/// devices, packages, buffers and the resource descriptors of a PCI root bridge's and ISA devices' <c>_CRS</c>.
/// </summary>
internal static class Aml
{
    private const byte ZeroOp = 0x00, BytePrefix = 0x0A, WordPrefix = 0x0B, DWordPrefix = 0x0C, NameOp = 0x08,
        ScopeOp = 0x10, BufferOp = 0x11, PackageOp = 0x12, ExtOpPrefix = 0x5B, DeviceOp = 0x82;

    /// <summary><c>Scope (name) { body }</c>.</summary>
    public static byte[] Scope(string name, params byte[][] body) => [ScopeOp, .. WithPkgLength([.. NameString(name), .. body.SelectMany(b => b)])];

    /// <summary><c>Device (name) { body }</c>.</summary>
    public static byte[] Device(string name, params byte[][] body) => [ExtOpPrefix, DeviceOp, .. WithPkgLength([.. NameString(name), .. body.SelectMany(b => b)])];

    /// <summary><c>Name (name, value)</c>.</summary>
    public static byte[] Name(string name, byte[] value) => [NameOp, .. NameString(name), .. value];

    /// <summary>The smallest integer encoding of <paramref name="value"/>.</summary>
    public static byte[] Integer(uint value) => value switch
    {
        0 => [ZeroOp],
        <= 0xFF => [BytePrefix, (byte)value],
        <= 0xFFFF => [WordPrefix, (byte)value, (byte)(value >> 8)],
        _ => [DWordPrefix, (byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24)],
    };

    /// <summary><c>EisaId ("PNP0A03")</c>: three letters of 5 bits and four hex digits, stored big-endian.</summary>
    public static byte[] EisaId(string id)
    {
        uint letters = (uint)(((id[0] - '@') << 10) | ((id[1] - '@') << 5) | (id[2] - '@'));
        uint product = Convert.ToUInt32(id[3..], 16);
        return [DWordPrefix, (byte)(letters >> 8), (byte)letters, (byte)(product >> 8), (byte)product];
    }

    /// <summary><c>Package () { elements }</c>.</summary>
    public static byte[] Package(params byte[][] elements) => [PackageOp, .. WithPkgLength([(byte)elements.Length, .. elements.SelectMany(e => e)])];

    /// <summary><c>Buffer () { bytes }</c>.</summary>
    public static byte[] Buffer(byte[] bytes) => [BufferOp, .. WithPkgLength([.. Integer((uint)bytes.Length), .. bytes])];

    /// <summary>A resource template: the descriptors, then the end tag (checksum 0: "treat as summed").</summary>
    public static byte[] ResourceTemplate(params byte[][] descriptors) => [.. descriptors.SelectMany(d => d), 0x79, 0x00];

    /// <summary>A bridge's bus-number range (Word Address Space Descriptor, producer, fixed, positive decode).</summary>
    public static byte[] WordBusNumber(ushort min, ushort max) => WordAddressSpace(2, 0x00, min, max);

    /// <summary>An I/O window a bridge passes down (Word Address Space Descriptor, entire ISA range).</summary>
    public static byte[] WordIo(ushort min, ushort max) => WordAddressSpace(1, 0x03, min, max);

    /// <summary>Ports a device decodes itself (IO Port Descriptor, 16-bit decode).</summary>
    public static byte[] Io(ushort port, byte length) => [0x47, 0x01, (byte)port, (byte)(port >> 8), (byte)port, (byte)(port >> 8), 0x01, length];

    /// <summary>An edge-triggered, active-high ISA interrupt line (IRQ Descriptor without flags).</summary>
    public static byte[] Irq(int line) => [0x22, (byte)(1 << line), (byte)((1 << line) >> 8)];

    /// <summary>A memory window a bridge passes down (DWord Address Space Descriptor, cacheable, read-write).</summary>
    public static byte[] DWordMemory(uint min, uint max)
    {
        byte[] descriptor = new byte[26];
        descriptor[0] = 0x87;
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(1), 23);
        descriptor[3] = 0;    // memory
        descriptor[4] = 0x0C; // producer, positive decode, min and max fixed
        descriptor[5] = 0x03; // cacheable, read-write
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor.AsSpan(10), min);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor.AsSpan(14), max);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor.AsSpan(22), max - min + 1);
        return descriptor;
    }

    private static byte[] WordAddressSpace(byte resourceType, byte typeFlags, ushort min, ushort max)
    {
        byte[] descriptor = new byte[16];
        descriptor[0] = 0x88;
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(1), 13);
        descriptor[3] = resourceType;
        descriptor[4] = 0x0C; // producer, positive decode, min and max fixed
        descriptor[5] = typeFlags;
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(8), min);
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(10), max);
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(14), (ushort)(max - min + 1));
        return descriptor;
    }

    /// <summary>A name: a root prefix if given, then one 4-character segment (shorter ones padded with '_').</summary>
    private static byte[] NameString(string name)
    {
        bool root = name.StartsWith('\\');
        string segment = (root ? name[1..] : name).PadRight(4, '_');
        return [.. root ? [(byte)'\\'] : Array.Empty<byte>(), .. Encoding.ASCII.GetBytes(segment)];
    }

    /// <summary>The package length encoding (1-4 bytes, counting itself) in front of <paramref name="content"/>.</summary>
    private static byte[] WithPkgLength(byte[] content)
    {
        int length = content.Length + 1;
        if (length <= 0x3F)
        {
            return [(byte)length, .. content];
        }

        length = content.Length + 2;
        if (length <= 0xFFF)
        {
            return [(byte)(0x40 | (length & 0x0F)), (byte)(length >> 4), .. content];
        }

        length = content.Length + 3;
        return [(byte)(0x80 | (length & 0x0F)), (byte)(length >> 4), (byte)(length >> 12), .. content];
    }
}
