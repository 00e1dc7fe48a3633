using System.Buffers.Binary;
using System.Text;
using SplitEmu.CpuHost.Machine;
using SplitEmu.DeviceHost.Devices.Input;
using SplitEmu.DeviceHost.Devices.Rtc;
using SplitEmu.DeviceHost.Devices.Serial;
using SplitEmu.Shared.Profiles;

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
        AcpiTables.Write(_ram, 0x600, 9, []);

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

    [Fact]
    public void Dsdt_DescribesTheProfilesIsaDevices_WithTheirPortsAndLines_AndTheFadtNamesTheCentury()
    {
        DeviceConfig[] devices =
        [
            new() { Id = "kbd", Type = I8042.TypeName },
            new() { Id = "com1", Type = Uart16550.TypeName, Io = 0x3F8, Irq = 4 },
            new() { Id = "com2", Type = Uart16550.TypeName, Io = 0x2F8, Irq = 3 },
            new() { Id = "rtc", Type = CmosRtc.TypeName },
            new() { Id = "pit", Type = "i8254" }, // firmware describes no timer: Linux knows where the PIT is
        ];

        AcpiTables.Write(_ram, 0x600, 9, AcpiIsaDevice.Describe(devices));

        byte[] rsdp = _ram.Read(AcpiTables.RsdpAddress, 20);
        byte[] fadt = Table(BinaryPrimitives.ReadUInt32LittleEndian(Table(BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(16)), "RSDT").AsSpan(36)), "FACP");
        Assert.Equal(CmosRtc.Century, fadt[108]);
        byte[] dsdt = Table(BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(40)), "DSDT");
        string aml = Encoding.Latin1.GetString(dsdt, 36, dsdt.Length - 36);
        Assert.Contains("ISA_\x08_ADR\x0C\x00\x00\x01\x00", aml); // Device (ISA) { Name (_ADR, 0x00010000)
        // Each device: its name, _HID as an EISA id, _UID, then a _CRS with its ports (IO, 16-bit decode) and line.
        Assert.Contains("KBD_\x08_HID\x0C\x41\xD0\x03\x03\x08_UID\x0A\x01", aml);
        Assert.Contains("\x47\x01\x60\x00\x60\x00\x01\x01\x47\x01\x64\x00\x64\x00\x01\x01\x22\x02\x00\x79", aml);
        Assert.Contains("MOU_\x08_HID\x0C\x41\xD0\x0F\x13", aml);
        Assert.Contains("\x22\x00\x10\x79", aml); // IRQ 12
        Assert.Contains("COM1\x08_HID\x0C\x41\xD0\x05\x01\x08_UID\x0A\x01", aml);
        Assert.Contains("\x47\x01\xF8\x03\xF8\x03\x01\x08\x22\x10\x00\x79", aml);
        Assert.Contains("COM2\x08_HID\x0C\x41\xD0\x05\x01\x08_UID\x0A\x02", aml);
        Assert.Contains("\x47\x01\xF8\x02\xF8\x02\x01\x08\x22\x08\x00\x79", aml);
        Assert.Contains("RTC_\x08_HID\x0C\x41\xD0\x0B\x00", aml);
        Assert.Contains("\x47\x01\x70\x00\x70\x00\x01\x02\x22\x00\x01\x79", aml);
        Assert.Equal(5, CountOf(aml, "\x5B\x82") - 2); // five devices besides PCI0 and ISA: none for the PIT
    }

    [Fact]
    public void Tables_WithoutAnRtc_NameNoCentury_AndDescribeNoIsaBridge()
    {
        AcpiTables.Write(_ram, 0x600, 9, AcpiIsaDevice.Describe([new DeviceConfig { Id = "pit", Type = "i8254" }]));

        byte[] rsdp = _ram.Read(AcpiTables.RsdpAddress, 20);
        byte[] fadt = Table(BinaryPrimitives.ReadUInt32LittleEndian(Table(BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(16)), "RSDT").AsSpan(36)), "FACP");
        Assert.Equal(0, fadt[108]);
        byte[] dsdt = Table(BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(40)), "DSDT");
        Assert.DoesNotContain("ISA_", Encoding.Latin1.GetString(dsdt, 36, dsdt.Length - 36));
    }

    private static int CountOf(string text, string part)
    {
        int count = 0;
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
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
