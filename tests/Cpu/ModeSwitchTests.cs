using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Cpu;

/// <summary>
/// The boot-loader dance (Intel SDM vol. 3 §10.9): real mode → 32-bit protected mode through LGDT, CR0.PE and
/// a far jump, and back to real mode through a 16-bit code segment, as BIOSes and loaders do it.
/// </summary>
public sealed class ModeSwitchTests
{
    private const ushort RealModeEntry = 0x7C00;
    private const uint ProtectedEntry = 0x8000;
    private const ushort Code16Entry = 0x8800;
    private const ushort RealModeReturn = 0x7E00;
    private const uint GdtAddress = 0x6000;
    private const uint GdtrAddress = 0x6100;
    private const uint Marker = 0x5000;
    private const ushort Code32Selector = 0x08, Data32Selector = 0x10, Code16Selector = 0x18;

    [Fact]
    public void RealMode_LgdtSetPeFarJump_Runs32BitCodeAtCpl0()
    {
        using var bus = new FakeCpuBus(1 << 20);
        X86Cpu cpu = BootMachine(bus, returnToRealMode: false);

        CpuRunResult result = cpu.Run(1000);

        Assert.Equal(CpuStopReason.Halted, result.Reason);
        Assert.Equal(0xCAFE_BABEu, BitConverter.ToUInt32(bus.Ram.Slice((int)Marker, 4)));
        Assert.True(cpu.State.ProtectedMode);
        Assert.True(cpu.State.Segments[SegmentIndex.CS].Big);
        Assert.Equal(Code32Selector, cpu.State.Segments[SegmentIndex.CS].Selector);
        Assert.Equal(0, cpu.State.Cpl);
    }

    [Fact]
    public void ProtectedMode_Through16BitSegmentAndClearedPe_ReturnsToRealMode()
    {
        using var bus = new FakeCpuBus(1 << 20);
        X86Cpu cpu = BootMachine(bus, returnToRealMode: true);

        CpuRunResult result = cpu.Run(1000);

        Assert.Equal(CpuStopReason.Halted, result.Reason);
        Assert.False(cpu.State.ProtectedMode);
        Assert.Equal(0, cpu.State.Segments[SegmentIndex.CS].Selector);
        Assert.False(cpu.State.Segments[SegmentIndex.CS].Big);
        Assert.Equal(0x1234ul, cpu.State.Rax & 0xFFFF);
        Assert.Equal(RealModeReturn + 4ul, cpu.State.Rip); // mov ax, imm16 (3 bytes) + hlt
    }

    private static X86Cpu BootMachine(FakeCpuBus bus, bool returnToRealMode)
    {
        var gdt = new ulong[]
        {
            0,
            0x00CF_9A00_0000_FFFF, // 0x08: 32-bit code, 4 GiB
            0x00CF_9200_0000_FFFF, // 0x10: data, 4 GiB
            0x0000_9A00_0000_FFFF, // 0x18: 16-bit code, 64 KiB
        };
        for (int i = 0; i < gdt.Length; i++)
            BitConverter.TryWriteBytes(bus.Ram.Slice((int)GdtAddress + i * 8, 8), gdt[i]);
        BitConverter.TryWriteBytes(bus.Ram.Slice((int)GdtrAddress, 2), (ushort)(gdt.Length * 8 - 1));
        BitConverter.TryWriteBytes(bus.Ram.Slice((int)GdtrAddress + 2, 4), GdtAddress);

        Load(bus, 16, RealModeEntry, a =>
        {
            a.cli();
            a.lgdt(__[GdtrAddress]);
            a.mov(eax, cr0);
            a.or(eax, 1);
            a.mov(cr0, eax);
            a.db(0x66, 0xEA);                       // jmp far 0008:ProtectedEntry (ptr16:32)
            a.dd(ProtectedEntry);
            a.dw(Code32Selector);
        });
        Load(bus, 32, ProtectedEntry, a =>
        {
            a.mov(ax, Data32Selector);
            a.mov(ds, ax);
            a.mov(ss, ax);
            a.mov(esp, 0x9000);
            a.mov(__dword_ptr[Marker], 0xCAFE_BABE);
            if (!returnToRealMode)
            {
                a.hlt();
                return;
            }
            a.db(0xEA);                             // jmp far 0018:Code16Entry (ptr16:32)
            a.dd(Code16Entry);
            a.dw(Code16Selector);
        });
        Load(bus, 16, Code16Entry, a =>
        {
            a.mov(eax, cr0);
            a.and(eax, ~1);
            a.mov(cr0, eax);
            a.db(0xEA);                             // jmp far 0000:RealModeReturn (ptr16:16)
            a.dw(RealModeReturn);
            a.dw(0);
        });
        Load(bus, 16, RealModeReturn, a =>
        {
            a.mov(ax, 0x1234);
            a.hlt();
        });

        var cpu = new X86Cpu(bus);
        ref CpuState s = ref cpu.State;
        s.Segments[SegmentIndex.CS] = new SegmentRegister { Selector = 0, Base = 0, Limit = 0xFFFF, Attributes = DescriptorAttributes.RealModeCode };
        s.Rip = RealModeEntry;
        return cpu;
    }

    private static void Load(FakeCpuBus bus, int bitness, uint address, Action<Assembler> build)
    {
        var a = new Assembler(bitness);
        build(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), address);
        bus.Load(address, stream.ToArray());
    }
}
