using System.Buffers.Binary;
using System.Text;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The ACPI 1.0 tables a directly booted kernel reads to find the machine's power-management hardware (the
/// <c>acpi-pm</c> device), written where firmware would put them: the RSDP in the BIOS area (0xE0000, where
/// Linux scans for it without EFI), then the RSDT, FADT, FACS and a DSDT whose only object is <c>\_S5</c> (soft
/// off, sleep type <see cref="SoftOffSleepType"/>), the PCI root bridge and the machine's legacy ISA devices, and on a
/// machine with local APICs a MADT (without one, Linux ignores the MP tables and stays on one CPU and the 8259s). SMI_CMD is 0, so the
/// machine is always in ACPI mode and no firmware has to hand it over.
/// </summary>
public static class AcpiTables
{
    /// <summary>Where the tables go: the first 4 KiB of the BIOS area (reserved in the e820 map).</summary>
    public const uint RsdpAddress = 0xE_0000;

    /// <summary>The sleep type \_S5 names; the acpi-pm model powers off on it.</summary>
    public const byte SoftOffSleepType = 5;

    private const uint RsdtAddress = RsdpAddress + 0x40, FadtAddress = RsdpAddress + 0x80, FacsAddress = RsdpAddress + 0x140,
        MadtAddress = RsdpAddress + 0x200, DsdtAddress = RsdpAddress + 0x300, TablesEnd = RsdpAddress + 0x1000;

    /// <summary>MADT entry types (ACPI 1.0b, 5.2.8).</summary>
    private const byte MadtLocalApic = 0, MadtIoApic = 1, MadtInterruptOverride = 2, MadtLocalApicNmi = 4;

    /// <summary>MPS INTI flags of an override: active high, level-triggered (the SCI, as QEMU describes it).</summary>
    private const ushort LevelActiveHigh = 0b1101;

    private const int HeaderLength = 36, FadtLength = 116, FacsLength = 64;

    /// <summary>Top of the PCI memory window: the firmware, I/O APIC and local APIC live above.</summary>
    private const uint PciMemoryWindowEnd = 0xFEBF_FFFF;

    /// <summary>FADT flags: WBINVD works, C1 supported, no fixed power or sleep button, 32-bit PM timer.</summary>
    private const uint FadtFlags = (1 << 0) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 8);

    /// <summary>
    /// Writes the tables for PM blocks at <paramref name="pmBase"/> (PM1a_EVT, +4 PM1a_CNT, +8 PM_TMR), the SCI on
    /// <paramref name="sciLine"/> and the ISA devices <paramref name="isaDevices"/> (see <see cref="AcpiIsaDevice.Describe"/>),
    /// and the MADT of <paramref name="apics"/> when the machine has local APICs.
    /// </summary>
    public static void Write(GuestRam ram, ushort pmBase, int sciLine, IReadOnlyList<AcpiIsaDevice> isaDevices, MadtDescription? apics = null)
    {
        byte[] dsdt = Dsdt(ram.Size, isaDevices);
        if (dsdt.Length > TablesEnd - DsdtAddress)
        {
            throw new InvalidOperationException($"the DSDT ({dsdt.Length} bytes) does not fit the BIOS area's table page");
        }

        ram.Load(DsdtAddress, dsdt);
        ram.Load(FacsAddress, Facs());
        bool hasRtc = isaDevices.Any(d => d.HardwareId == AcpiIsaDevice.RtcHardwareId);
        ram.Load(FadtAddress, Fadt(pmBase, sciLine, hasRtc ? (byte)DeviceHost.Devices.Rtc.CmosRtc.Century : (byte)0));
        if (apics is not null)
        {
            byte[] madt = Madt(apics, sciLine);
            if (madt.Length > DsdtAddress - MadtAddress)
            {
                throw new InvalidOperationException($"the MADT ({madt.Length} bytes) does not fit before the DSDT");
            }

            ram.Load(MadtAddress, madt);
        }

        ram.Load(RsdtAddress, Rsdt(apics is not null));
        ram.Load(RsdpAddress, Rsdp());
    }

    /// <summary>Root System Description Pointer, revision 0 (ACPI 1.0): 20 bytes, checksummed.</summary>
    private static byte[] Rsdp()
    {
        byte[] rsdp = new byte[20];
        Encoding.ASCII.GetBytes("RSD PTR ").CopyTo(rsdp, 0);
        Encoding.ASCII.GetBytes("SPLEMU").CopyTo(rsdp, 9);
        rsdp[15] = 0; // revision 0: RSDT only
        BinaryPrimitives.WriteUInt32LittleEndian(rsdp.AsSpan(16), RsdtAddress);
        rsdp[8] = Checksum(rsdp);
        return rsdp;
    }

    private static byte[] Rsdt(bool withMadt)
    {
        uint[] entries = withMadt ? [FadtAddress, MadtAddress] : [FadtAddress];
        byte[] rsdt = Header("RSDT", HeaderLength + 4 * entries.Length, revision: 1);
        for (int i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(rsdt.AsSpan(HeaderLength + 4 * i), entries[i]);
        }

        return Finish(rsdt);
    }

    /// <summary>
    /// Multiple APIC Description Table, revision 1 (ACPI 1.0b, 5.2.8): a processor entry per vCPU, the I/O APIC with
    /// its GSIs from 0, the timer's IRQ 0 on GSI 2 and the SCI level-triggered (as QEMU's), NMI on every LINT1.
    /// </summary>
    private static byte[] Madt(MadtDescription apics, int sciLine)
    {
        List<byte[]> entries = [];
        for (int cpu = 0; cpu < apics.Cpus; cpu++)
        {
            entries.Add([MadtLocalApic, 8, (byte)cpu, (byte)cpu, 1, 0, 0, 0]); // ACPI processor id, APIC id, enabled
        }

        if (apics.IoApicId is byte ioApicId)
        {
            byte[] ioApic = [MadtIoApic, 12, ioApicId, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            BinaryPrimitives.WriteUInt32LittleEndian(ioApic.AsSpan(4), MpTable.IoApicAddress);
            entries.Add(ioApic); // GSI base 0
            entries.Add(InterruptOverride(0, (uint)MpTable.IoApicPinOf(0), 0));
            entries.Add(InterruptOverride((byte)sciLine, (uint)MpTable.IoApicPinOf(sciLine), LevelActiveHigh));
        }

        entries.Add([MadtLocalApicNmi, 6, 0xFF, 0, 0, 1]); // every processor, conforming flags, LINT1

        byte[] madt = Header("APIC", HeaderLength + 8 + entries.Sum(e => e.Length), revision: 1);
        BinaryPrimitives.WriteUInt32LittleEndian(madt.AsSpan(HeaderLength), MpTable.LocalApicAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(madt.AsSpan(HeaderLength + 4), apics.HasPic ? 1u : 0u); // PCAT_COMPAT
        int at = HeaderLength + 8;
        foreach (byte[] entry in entries)
        {
            entry.CopyTo(madt, at);
            at += entry.Length;
        }

        return Finish(madt);
    }

    /// <summary>An interrupt source override: ISA <paramref name="source"/> arrives on <paramref name="gsi"/> with MPS INTI <paramref name="flags"/>.</summary>
    private static byte[] InterruptOverride(byte source, uint gsi, ushort flags)
    {
        byte[] entry = [MadtInterruptOverride, 10, 0, source, 0, 0, 0, 0, 0, 0]; // bus 0: ISA
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4), gsi);
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(8), flags);
        return entry;
    }

    /// <summary>Fixed ACPI Description Table, revision 1 (116 bytes), field offsets as in ACPI 1.0b table 5-6.</summary>
    private static byte[] Fadt(ushort pmBase, int sciLine, byte rtcCentury)
    {
        byte[] fadt = Header("FACP", FadtLength, revision: 1);
        Span<byte> t = fadt;
        BinaryPrimitives.WriteUInt32LittleEndian(t[36..], FacsAddress);   // FIRMWARE_CTRL
        BinaryPrimitives.WriteUInt32LittleEndian(t[40..], DsdtAddress);   // DSDT
        BinaryPrimitives.WriteUInt16LittleEndian(t[46..], (ushort)sciLine); // SCI_INT
        // SMI_CMD (48) stays 0: always in ACPI mode.
        BinaryPrimitives.WriteUInt32LittleEndian(t[56..], pmBase);        // PM1a_EVT_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(t[64..], pmBase + 4u);   // PM1a_CNT_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(t[76..], pmBase + 8u);   // PM_TMR_BLK
        t[88] = 4; // PM1_EVT_LEN
        t[89] = 2; // PM1_CNT_LEN
        t[91] = 4; // PM_TMR_LEN
        BinaryPrimitives.WriteUInt16LittleEndian(t[96..], 0x0FFF);        // P_LVL2_LAT > 100: no C2
        BinaryPrimitives.WriteUInt16LittleEndian(t[98..], 0x0FFF);        // P_LVL3_LAT > 1000: no C3
        t[108] = rtcCentury; // CENTURY: the CMOS index of the century, 0 for none
        BinaryPrimitives.WriteUInt32LittleEndian(t[112..], FadtFlags);
        return Finish(fadt);
    }

    /// <summary>Firmware ACPI Control Structure: no waking vector, no global lock (64 bytes, no checksum).</summary>
    private static byte[] Facs()
    {
        byte[] facs = new byte[FacsLength];
        Encoding.ASCII.GetBytes("FACS").CopyTo(facs, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(facs.AsSpan(4), FacsLength);
        return facs;
    }

    /// <summary>
    /// Differentiated System Description Table: the PCI root bridge and <c>Name (_S5, Package () { 5, 5, 0, 0 })</c>.
    /// With ACPI, Linux takes its PCI root buses and their windows from the namespace only (no legacy scan):
    /// without <c>\_SB.PCI0</c> and its <c>_CRS</c> it would see no PCI device, or no room for their BARs. The
    /// windows are a PC's: all I/O but the configuration ports, the VGA hole, and memory from the end of RAM up
    /// to the firmware and APIC area. No <c>_PRT</c>: the IDE controller is in legacy mode, on IRQ 14 and 15.
    /// The ISA devices sit under the PIIX3's ISA bridge (<c>\_SB.PCI0.ISA</c>, function 00:01.0), as on a PC.
    /// </summary>
    private static byte[] Dsdt(ulong ramBytes, IReadOnlyList<AcpiIsaDevice> isaDevices)
    {
        uint memoryWindowStart = (uint)Math.Min(ramBytes, PciMemoryWindowEnd - 0xFFFF);
        byte[] crs = Aml.ResourceTemplate(
            Aml.WordBusNumber(0x00, 0xFF),
            Aml.Io(0x0CF8, 8),
            Aml.WordIo(0x0000, 0x0CF7),
            Aml.WordIo(0x0D00, 0xFFFF),
            Aml.DWordMemory(0x000A_0000, 0x000B_FFFF),
            Aml.DWordMemory(memoryWindowStart, PciMemoryWindowEnd));
        byte[] aml =
        [
            .. Aml.Scope("\\_SB", Aml.Device("PCI0",
                Aml.Name("_HID", Aml.EisaId("PNP0A03")),
                Aml.Name("_UID", Aml.Integer(0)),
                Aml.Name("_ADR", Aml.Integer(0)),
                Aml.Name("_CRS", Aml.Buffer(crs)),
                IsaBridge(isaDevices))),
            .. Aml.Name("_S5", Aml.Package(Aml.Integer(SoftOffSleepType), Aml.Integer(SoftOffSleepType), Aml.Integer(0), Aml.Integer(0))),
        ];
        byte[] dsdt = Header("DSDT", HeaderLength + aml.Length, revision: 1);
        aml.CopyTo(dsdt, HeaderLength);
        return Finish(dsdt);
    }

    /// <summary><c>Device (ISA) { _ADR 0x00010000, one Device per ISA device }</c>, or nothing when there is none.</summary>
    private static byte[] IsaBridge(IReadOnlyList<AcpiIsaDevice> isaDevices)
    {
        if (isaDevices.Count == 0)
        {
            return [];
        }

        IEnumerable<byte[]> devices = isaDevices.Select((device, index) => Aml.Device(device.Name,
            Aml.Name("_HID", Aml.EisaId(device.HardwareId)),
            // Devices of one class tell themselves apart by _UID: 1, 2, ... in profile order.
            Aml.Name("_UID", Aml.Integer((uint)isaDevices.Take(index + 1).Count(d => d.HardwareId == device.HardwareId))),
            Aml.Name("_CRS", Aml.Buffer(Aml.ResourceTemplate([
                .. device.Ports.Select(p => Aml.Io(p.Port, p.Length)),
                .. device.IrqLine is int line ? [Aml.Irq(line)] : Array.Empty<byte[]>()])))));
        return Aml.Device("ISA", [Aml.Name("_ADR", Aml.Integer(0x0001_0000)), .. devices]);
    }

    /// <summary>A description header: signature, length, revision, OEM fields; the checksum is set by <see cref="Finish"/>.</summary>
    private static byte[] Header(string signature, int length, byte revision)
    {
        byte[] table = new byte[length];
        Encoding.ASCII.GetBytes(signature).CopyTo(table, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4), (uint)length);
        table[8] = revision;
        Encoding.ASCII.GetBytes("SPLEMU").CopyTo(table, 10);      // OEMID
        Encoding.ASCII.GetBytes("SPLITEMU").CopyTo(table, 16);    // OEM table id
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(24), 1); // OEM revision
        Encoding.ASCII.GetBytes("SPLT").CopyTo(table, 28);        // creator id
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(32), 1); // creator revision
        return table;
    }

    private static byte[] Finish(byte[] table)
    {
        table[9] = Checksum(table);
        return table;
    }

    /// <summary>
    /// The byte that makes all bytes sum to 0 (its own position must hold 0 when called): the checksum of ACPI
    /// tables, and of the MP tables (<see cref="MpTable"/>), which use the same rule.
    /// </summary>
    internal static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes)
        {
            sum += b;
        }

        return (byte)(0 - sum);
    }
}
