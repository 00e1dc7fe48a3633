using System.Buffers.Binary;
using System.Text;
using SplitEmu.CpuHost.Machine;

namespace SplitEmu.Tests.Boot;

/// <summary>
/// The ACPI tables a directly booted kernel reads: an RSDP where Linux scans the BIOS area, a chain RSDT → FADT
/// → FACS/DSDT whose checksums hold, a FADT that points at the acpi-pm device's blocks and SCI, and a DSDT with
/// the PCI root bridge (without it an ACPI kernel sees no PCI bus) and \_S5.
/// </summary>
public sealed class AcpiTablesTests : IDisposable
{
    private readonly GuestRam _ram = new(4UL << 20);

    public void Dispose() => _ram.Dispose();

    [Fact]
    public void Tables_ChainFromTheRsdp_WithValidChecksums_AndDescribeThePmBlocks()
    {
        AcpiTables.Write(_ram, 0x600, 9);

        byte[] rsdp = _ram.Read(AcpiTables.RsdpAddress, 20);
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp, 0, 8));
        Assert.Equal(0, Sum(rsdp));
        byte[] rsdt = Table(BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(16)), "RSDT");
        byte[] fadt = Table(BinaryPrimitives.ReadUInt32LittleEndian(rsdt.AsSpan(36)), "FACP");
        Assert.Equal(116, fadt.Length);
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(fadt.AsSpan(46)));     // SCI_INT
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(48)));    // SMI_CMD: always ACPI mode
        Assert.Equal(0x600u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(56))); // PM1a_EVT_BLK
        Assert.Equal(0x604u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(64))); // PM1a_CNT_BLK
        Assert.Equal(0x608u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(76))); // PM_TMR_BLK
        Assert.Equal([4, 2, 0, 4], fadt[88..92]);
        Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(112)) & (1 << 8)); // 32-bit timer

        byte[] facs = _ram.Read(BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(36)), 64);
        Assert.Equal("FACS", Encoding.ASCII.GetString(facs, 0, 4));
        byte[] dsdt = Table(BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(40)), "DSDT");
        string aml = Encoding.Latin1.GetString(dsdt, 36, dsdt.Length - 36);
        Assert.StartsWith("\x10", aml); // Scope (\_SB) ...
        Assert.Contains("\\_SB_\x5B\x82", aml); // ... { Device (
        Assert.Contains("PCI0\x08_HID\x0C\x41\xD0\x0A\x03", aml); // PCI0) { Name (_HID, EisaId ("PNP0A03"))
        int crs = aml.IndexOf("_CRS\x11", StringComparison.Ordinal);
        Assert.True(crs > 0, "the root bridge has no _CRS: Linux would give its devices no I/O window");
        Assert.Contains("\x88\x0D\x00\x01\x0C\x03", aml); // a WordIO window...
        Assert.Contains("\x79\x00", aml[crs..]); // ...and the template's end tag
        int s5 = aml.IndexOf("_S5_", StringComparison.Ordinal);
        Assert.Equal(AcpiTables.SoftOffSleepType, (byte)aml[s5 + 8]); // Package { 5, 5, 0, 0 }: BytePrefix 5
    }

    private byte[] Table(uint address, string signature)
    {
        byte[] header = _ram.Read(address, 8);
        Assert.Equal(signature, Encoding.ASCII.GetString(header, 0, 4));
        byte[] table = _ram.Read(address, (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4)));
        Assert.Equal(0, Sum(table));
        return table;
    }

    private static int Sum(byte[] bytes) => bytes.Aggregate(0, (sum, b) => (sum + b) & 0xFF);
}
