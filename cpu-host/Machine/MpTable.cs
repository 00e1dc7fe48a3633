using System.Buffers.Binary;
using System.Text;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The Intel MultiProcessor Specification 1.4 tables a directly booted kernel finds the processors and the I/O APIC
/// in when there is no firmware to write them (and no ACPI MADT: Linux then reads these): the MP floating pointer
/// structure in the BIOS area, where the specification says to search (0xF0000-0xFFFFF), and the configuration
/// table after it. Written as SeaBIOS writes them for QEMU: one processor entry per vCPU (APIC ID = index, the first
/// the bootstrap processor), the PCI and ISA buses, the I/O APIC, the ISA interrupts on the I/O APIC's pins (IRQ 0
/// on pin 2, the PC's timer override; the others on the pin of their number), and the local interrupts ExtINT on
/// LINT0 and NMI on LINT1 of every local APIC.
/// </summary>
public static class MpTable
{
    /// <summary>Where the floating pointer structure goes (16-byte aligned, inside the searched BIOS area).</summary>
    public const uint FloatingPointerAddress = 0xF_0000;

    /// <summary>Where the configuration table goes: right after the floating pointer.</summary>
    public const uint ConfigurationTableAddress = FloatingPointerAddress + 16;

    /// <summary>The local APICs' address (every processor's, at its own APIC).</summary>
    public const uint LocalApicAddress = 0xFEE0_0000;

    /// <summary>The I/O APIC's address.</summary>
    public const uint IoApicAddress = 0xFEC0_0000;

    private const byte ProcessorEntry = 0, BusEntry = 1, IoApicEntry = 2, IoInterruptEntry = 3, LocalInterruptEntry = 4;
    private const byte InterruptInt = 0, InterruptNmi = 1, InterruptExtInt = 3;
    private const byte LocalApicVersion = 0x14, IoApicVersion = 0x11;

    /// <summary>The ISA bus's interrupt flags for an IRQ: conforming to the bus (edge, active high) unless said level-triggered.</summary>
    private const ushort ConformingFlags = 0, LevelActiveLowFlags = 0b1111;

    /// <summary>
    /// Writes the tables for <paramref name="cpus"/> processors (CPUID leaf 1 <paramref name="cpuSignature"/> and
    /// <paramref name="featureFlags"/>) and, when <paramref name="hasIoApic"/>, the I/O APIC and its ISA interrupts;
    /// <paramref name="levelTriggeredIrqs"/> are ISA lines that are level-triggered and active low (the ACPI SCI).
    /// Returns the bytes written from <see cref="FloatingPointerAddress"/>, for tests.
    /// </summary>
    public static byte[] Build(int cpus, uint cpuSignature, uint featureFlags, bool hasPci, bool hasIoApic, IReadOnlyCollection<int> levelTriggeredIrqs)
    {
        List<byte[]> entries = [];
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            byte[] entry = new byte[20];
            entry[0] = ProcessorEntry;
            entry[1] = (byte)cpu;
            entry[2] = LocalApicVersion;
            entry[3] = (byte)(0b01 | (cpu == 0 ? 0b10 : 0)); // enabled, bootstrap processor
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4), cpuSignature);
            BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), featureFlags);
            entries.Add(entry);
        }

        byte busId = 0;
        if (hasPci)
        {
            entries.Add(Bus(busId++, "PCI   "));
        }

        byte isaBus = busId;
        entries.Add(Bus(isaBus, "ISA   "));
        byte ioApicId = (byte)cpus; // after the processors' IDs, as SeaBIOS numbers it
        if (hasIoApic)
        {
            byte[] ioApic = new byte[8];
            ioApic[0] = IoApicEntry;
            ioApic[1] = ioApicId;
            ioApic[2] = IoApicVersion;
            ioApic[3] = 1; // enabled
            BinaryPrimitives.WriteUInt32LittleEndian(ioApic.AsSpan(4), IoApicAddress);
            entries.Add(ioApic);
            for (int irq = 0; irq < 16; irq++)
            {
                if (irq == 2)
                {
                    continue; // the cascade: the timer's IRQ 0 has its pin (2)
                }

                ushort flags = levelTriggeredIrqs.Contains(irq) ? LevelActiveLowFlags : ConformingFlags;
                entries.Add(Interrupt(IoInterruptEntry, InterruptInt, flags, isaBus, (byte)irq, ioApicId, (byte)IoApicPinOf(irq)));
            }
        }

        // Virtual wire: the 8259's output on every local APIC's LINT0, NMI on LINT1 (destination 0xFF: all of them).
        entries.Add(Interrupt(LocalInterruptEntry, InterruptExtInt, ConformingFlags, isaBus, 0, 0xFF, 0));
        entries.Add(Interrupt(LocalInterruptEntry, InterruptNmi, ConformingFlags, isaBus, 0, 0xFF, 1));

        const int headerLength = 44;
        int tableLength = headerLength + entries.Sum(e => e.Length);
        byte[] table = new byte[tableLength];
        Encoding.ASCII.GetBytes("PCMP").CopyTo(table, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(table.AsSpan(4), (ushort)tableLength);
        table[6] = 4; // specification revision 1.4
        Encoding.ASCII.GetBytes("SPLITEMU").CopyTo(table, 8);
        Encoding.ASCII.GetBytes("SPLITEMU PC ").CopyTo(table, 16);
        BinaryPrimitives.WriteUInt16LittleEndian(table.AsSpan(34), (ushort)entries.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(36), LocalApicAddress);
        int at = headerLength;
        foreach (byte[] entry in entries)
        {
            entry.CopyTo(table, at);
            at += entry.Length;
        }

        table[7] = AcpiTables.Checksum(table);

        byte[] pointer = new byte[16];
        Encoding.ASCII.GetBytes("_MP_").CopyTo(pointer, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(pointer.AsSpan(4), ConfigurationTableAddress);
        pointer[8] = 1; // length in 16-byte paragraphs
        pointer[9] = 4; // revision 1.4
        // Feature bytes 1-5 stay 0: a configuration table is present (no default configuration), no IMCR (virtual wire).
        pointer[10] = AcpiTables.Checksum(pointer);

        return [.. pointer, .. table];
    }

    /// <summary>
    /// The I/O APIC pin of ISA interrupt line <paramref name="irq"/>, as the tables say: the timer's IRQ 0 on pin 2
    /// (pin 0 is the 8259's output on a PC, the ISA bus's IRQ 2 is the cascade), every other line on its own pin.
    /// </summary>
    public static int IoApicPinOf(int irq) => irq == 0 ? 2 : irq;

    /// <summary>Writes <see cref="Build"/>'s tables into guest RAM at <see cref="FloatingPointerAddress"/>.</summary>
    public static void Write(GuestRam ram, int cpus, uint cpuSignature, uint featureFlags, bool hasPci, bool hasIoApic, IReadOnlyCollection<int> levelTriggeredIrqs) =>
        ram.Load(FloatingPointerAddress, Build(cpus, cpuSignature, featureFlags, hasPci, hasIoApic, levelTriggeredIrqs));

    private static byte[] Bus(byte id, string type)
    {
        byte[] bus = new byte[8];
        bus[0] = BusEntry;
        bus[1] = id;
        Encoding.ASCII.GetBytes(type).CopyTo(bus, 2);
        return bus;
    }

    private static byte[] Interrupt(byte entryType, byte interruptType, ushort flags, byte sourceBus, byte sourceIrq, byte destinationApic, byte destinationPin)
    {
        byte[] entry = new byte[8];
        entry[0] = entryType;
        entry[1] = interruptType;
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(2), flags);
        entry[4] = sourceBus;
        entry[5] = sourceIrq;
        entry[6] = destinationApic;
        entry[7] = destinationPin;
        return entry;
    }
}
