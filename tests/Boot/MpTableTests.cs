using System.Buffers.Binary;
using System.Text;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Machine;

namespace SplitEmu.Tests.Boot;

/// <summary>
/// The MP tables a directly booted SMP kernel reads, checked the way Linux's mpparse reads them: the floating
/// pointer where the specification says to search, checksums that hold, one enabled processor per vCPU with the
/// first as bootstrap processor, the I/O APIC, and the ISA interrupts routed as on a PC (IRQ 0 on pin 2).
/// </summary>
public sealed class MpTableTests : IDisposable
{
    private readonly GuestRam _ram = new(4UL << 20);

    public void Dispose() => _ram.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Tables_ListEveryProcessor_TheIoApic_AndTheIsaInterrupts(int cpus)
    {
        MpTable.Write(_ram, cpus, X86Cpu.Signature, X86Cpu.FeatureFlagsWithApic, hasPci: true, hasIoApic: true, levelTriggeredIrqs: [9]);

        uint pointerAt = FindFloatingPointer();
        byte[] pointer = _ram.Read(pointerAt, 16);
        Assert.Equal(0, Sum(pointer));
        Assert.Equal(4, pointer[9]);
        uint tableAt = BinaryPrimitives.ReadUInt32LittleEndian(pointer.AsSpan(4));
        ushort length = BinaryPrimitives.ReadUInt16LittleEndian(_ram.Read(tableAt + 4, 2));
        byte[] table = _ram.Read(tableAt, length);
        Assert.Equal("PCMP", Encoding.ASCII.GetString(table, 0, 4));
        Assert.Equal(0, Sum(table));
        Assert.Equal(0xFEE0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(table.AsSpan(36)));

        List<byte[]> processors = [], buses = [], ioApics = [], interrupts = [], local = [];
        int at = 44;
        int count = BinaryPrimitives.ReadUInt16LittleEndian(table.AsSpan(34));
        for (int i = 0; i < count; i++)
        {
            int size = table[at] == 0 ? 20 : 8;
            byte[] entry = table[at..(at + size)];
            (table[at] switch { 0 => processors, 1 => buses, 2 => ioApics, 3 => interrupts, 4 => local, _ => throw new InvalidDataException($"entry type {table[at]}") }).Add(entry);
            at += size;
        }

        Assert.Equal(length, at);
        Assert.Equal(cpus, processors.Count);
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            Assert.Equal(cpu, processors[cpu][1]);                              // APIC ID
            Assert.Equal(cpu == 0 ? 0b11 : 0b01, processors[cpu][3]);          // enabled (+ BSP)
            Assert.NotEqual(0u, BinaryPrimitives.ReadUInt32LittleEndian(processors[cpu].AsSpan(8)) & (1 << 9)); // APIC feature
        }

        Assert.Equal(["PCI   ", "ISA   "], buses.Select(b => Encoding.ASCII.GetString(b, 2, 6)));
        byte isaBus = buses[1][1];
        byte ioApic = Assert.Single(ioApics)[1];
        Assert.Equal(0xFEC0_0000u, BinaryPrimitives.ReadUInt32LittleEndian(ioApics[0].AsSpan(4)));
        Assert.DoesNotContain(processors, p => p[1] == ioApic);

        Dictionary<int, byte[]> byIrq = interrupts.ToDictionary(e => (int)e[5]);
        Assert.Equal(15, byIrq.Count); // 0-15 but the cascade
        Assert.False(byIrq.ContainsKey(2));
        Assert.All(byIrq.Values, e => Assert.Equal(isaBus, e[4]));
        Assert.All(byIrq.Values, e => Assert.Equal(ioApic, e[6]));
        Assert.Equal(2, byIrq[0][7]);
        Assert.Equal(4, byIrq[4][7]);
        Assert.Equal(0b1111, BinaryPrimitives.ReadUInt16LittleEndian(byIrq[9].AsSpan(2))); // level, active low
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(byIrq[4].AsSpan(2)));      // conforms to the bus
        Assert.Equal([(3, 0), (1, 1)], local.Select(e => ((int)e[1], (int)e[7])));       // ExtINT on LINT0, NMI on LINT1
    }

    [Fact]
    public void WithoutIoApic_OnlyProcessorsBusesAndLocalInterrupts()
    {
        byte[] bytes = MpTable.Build(2, X86Cpu.Signature, X86Cpu.FeatureFlagsWithApic, hasPci: false, hasIoApic: false, levelTriggeredIrqs: []);
        byte[] table = bytes[16..];
        Assert.Equal(2 + 1 + 2, BinaryPrimitives.ReadUInt16LittleEndian(table.AsSpan(34)));
        Assert.Equal(0, Sum(table));
    }

    /// <summary>Linux's search: 16-byte steps over the BIOS area for "_MP_".</summary>
    private uint FindFloatingPointer()
    {
        for (uint at = 0xF_0000; at < 0x10_0000; at += 16)
        {
            if (Encoding.ASCII.GetString(_ram.Read(at, 4)) == "_MP_")
            {
                return at;
            }
        }

        throw new InvalidDataException("no MP floating pointer in 0xF0000-0xFFFFF");
    }

    private static int Sum(byte[] bytes) => bytes.Aggregate(0, (sum, b) => (sum + b) & 0xFF);
}
