using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>REP string instructions are restartable: faults and interrupts stop them between iterations.</summary>
public sealed class StringInstructionTests
{
    private const uint Source = DataPage;
    private const uint Destination = DataPage + 0x2000;

    [Fact]
    public void RepMovsd_IntoNotPresentPage_FaultsWithProgressKeptAndEipOnTheInstruction()
    {
        const uint dwords = 0x800;              // 8 KiB: the second destination page is not present
        using var m = new ProtectedModeMachine();
        m.EnableIdentityPaging();
        m.SetPte(Destination + 0x1000, 0);
        int setup = m.LoadCode(KernelCode, a =>
        {
            a.cld();
            a.mov(esi, Source);
            a.mov(edi, Destination);
            a.mov(ecx, dwords);
            a.rep.movsd();
        }) - 2;

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.PageFault), m.Eip);
        Assert.Equal(Destination + 0x1000, m.Cpu.State.Cr2);
        Assert.Equal(KernelCode + (uint)setup, m.Stack(4));          // restart point: the REP MOVSD itself
        Assert.Equal(dwords - 0x400, (uint)m.Cpu.State.Rcx);         // the first page was copied
        Assert.Equal(Destination + 0x1000, (uint)m.Cpu.State.Rdi);
        Assert.Equal(Source + 0x1000, (uint)m.Cpu.State.Rsi);
    }

    [Fact]
    public void LongRepStosb_PendingInterrupt_IsTakenMidwayAndReturnsToTheInstruction()
    {
        const uint count = 100_000;
        using var m = new ProtectedModeMachine();
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        int setup = m.LoadCode(KernelCode, a =>
        {
            a.cld();
            a.mov(edi, Destination);
            a.mov(ecx, count);
            a.sti();
            a.rep.stosb();
        }) - 2;
        pic.Raise(0x20);

        m.Run(budget: 5);                    // up to and including the first slice of REP STOSB
        m.Cpu.NotifyInterruptPending();
        m.Run();

        Assert.Equal(AfterHandler(0x20), m.Eip);
        Assert.Equal(KernelCode + (uint)setup, m.Stack(0));          // returns to the REP STOSB
        uint remaining = (uint)m.Cpu.State.Rcx;
        Assert.InRange(remaining, 1u, count - 1);                     // interrupted part-way
        Assert.Equal(Destination + (count - remaining), (uint)m.Cpu.State.Rdi);
    }

    [Theory]
    [InlineData(false, 4)]   // DF = 0: addresses increase
    [InlineData(true, -4)]   // DF = 1: addresses decrease
    public void Lodsd_DirectionFlag_MovesEsiByElementSize(bool down, int delta)
    {
        using var m = new ProtectedModeMachine();
        m.WriteU32(Source, 0xDEAD_BEEF);
        m.LoadCode(KernelCode, a =>
        {
            if (down) a.std(); else a.cld();
            a.mov(esi, Source);
            a.lodsd();
            a.hlt();
        });

        m.Run();

        Assert.Equal(0xDEAD_BEEFu, (uint)m.Cpu.State.Rax);
        Assert.Equal((uint)(Source + delta), (uint)m.Cpu.State.Rsi);
    }

    [Fact]
    public void RepeCmpsb_StopsAtFirstDifference()
    {
        using var m = new ProtectedModeMachine();
        "abcdXf"u8.CopyTo(m.Bus.Ram[(int)Source..]);
        "abcdef"u8.CopyTo(m.Bus.Ram[(int)Destination..]);
        m.LoadCode(KernelCode, a =>
        {
            a.cld();
            a.mov(esi, Source);
            a.mov(edi, Destination);
            a.mov(ecx, 6);
            a.repe.cmpsb();
            a.hlt();
        });

        m.Run();

        Assert.Equal(1u, (uint)m.Cpu.State.Rcx);        // stopped after comparing the 5th byte
        Assert.Equal(Source + 5, (uint)m.Cpu.State.Rsi);
        Assert.Equal(0u, m.Cpu.State.Eflags & EflagsBits.ZF);
    }

    [Fact]
    public void RepMovsb_DestinationOneAboveSource_ReplicatesTheFirstByte()
    {
        const int length = 3000;
        using var m = new ProtectedModeMachine();
        m.Bus.Ram[(int)Source] = 0xAB;
        m.LoadCode(KernelCode, a =>
        {
            a.cld();
            a.mov(esi, Source);
            a.mov(edi, Source + 1);
            a.mov(ecx, length);
            a.rep.movsb();   // element by element: each byte copies the one just written
            a.hlt();
        });

        m.Run();

        Assert.Equal(0, (int)m.Cpu.State.Rcx);
        Assert.Equal(-1, m.Bus.Ram.Slice((int)Source, length + 1).IndexOfAnyExcept((byte)0xAB));
    }

    [Fact]
    public void RepStosd_AcrossSeveralPages_FillsExactlyTheRange()
    {
        const int dwords = 5000;              // 20,000 bytes: crosses four page boundaries
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            a.cld();
            a.mov(edi, Destination + 2);      // unaligned start
            a.mov(ecx, dwords);
            a.mov(eax, 0x1122_3344);
            a.rep.stosd();
            a.hlt();
        });

        m.Run();

        Span<byte> ram = m.Bus.Ram;
        Assert.Equal(0, ram[(int)Destination + 1]);
        Assert.Equal(0x44, ram[(int)Destination + 2]);
        Assert.Equal(0x11223344u, m.ReadU32(Destination + 2 + (dwords - 1) * 4));
        Assert.Equal(0, ram[(int)Destination + 2 + dwords * 4]);
        Assert.Equal(Destination + 2 + dwords * 4, (uint)m.Cpu.State.Rdi);
    }
}
