using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>Virtual-8086 mode (Intel SDM vol. 3 ch. 20): entry by IRETD, real-mode addressing, traps to ring 0.</summary>
public sealed class Virtual8086Tests
{
    private const ushort V86Code = 0x2000;   // linear 0x20000
    private const ushort V86Stack = 0x3000;
    private const ushort V86StackPointer = 0x0100;
    private const ushort V86Extra = 0x4000;
    private const uint Iopl3 = 3u << EflagsBits.IoplShift;

    [Fact]
    public void IntN_InV86WithIopl3_EntersRing0HandlerWithV86SegmentsOnTheFrame()
    {
        using var m = new ProtectedModeMachine();
        m.SetInterruptGate(0x80, trap: true, dpl: 3);
        EnterV86(m, Iopl3);
        int length = LoadV86Code(m, a =>
        {
            a.mov(ax, 0x1234);
            a.@int(0x80);
        });

        m.Run();

        Assert.Equal(AfterHandler(0x80), m.Eip);
        Assert.Equal(0, m.Cpu.State.Cpl);
        Assert.False(m.Cpu.State.Virtual8086);
        Assert.Equal(KernelStackTop - 36, m.Esp);
        Assert.Equal((uint)length, m.Stack(0));                    // IP after INT
        Assert.Equal(V86Code, m.Stack(4));
        Assert.Equal(EflagsBits.VM, m.Stack(8) & EflagsBits.VM);
        Assert.Equal(V86StackPointer, m.Stack(12));
        Assert.Equal(V86Stack, m.Stack(16));
        Assert.Equal(V86Extra, m.Stack(20));                       // ES, then DS, FS, GS
        Assert.Equal(0, m.Cpu.State.Segments[SegmentIndex.ES].Selector); // data segments are nulled
        Assert.Equal(0x1234ul, m.Cpu.State.Rax & 0xFFFF);
    }

    [Fact]
    public void Cli_InV86WithIopl0_RaisesGeneralProtection()
    {
        using var m = new ProtectedModeMachine();
        EnterV86(m, iopl: 0);
        LoadV86Code(m, a => a.cli());

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal(0u, m.Stack(0));        // error code
        Assert.Equal(0u, m.Stack(4));        // IP of the CLI
        Assert.Equal(V86Code, m.Stack(8));
    }

    [Fact]
    public void MemoryAccess_InV86_UsesSegmentTimes16()
    {
        using var m = new ProtectedModeMachine();
        m.SetInterruptGate(0x80, trap: true, dpl: 3);
        m.WriteU32(V86Extra * 16u + 0x10, 0xBEEF);
        EnterV86(m, Iopl3);
        LoadV86Code(m, a =>
        {
            a.mov(bx, __word_ptr.es[0x10]);
            a.@int(0x80);
        });

        m.Run();

        Assert.Equal(0xBEEFul, m.Cpu.State.Rbx & 0xFFFF);
    }

    /// <summary>Ring 0 code that IRETDs into V86 mode at 2000:0000 with the given IOPL.</summary>
    private static void EnterV86(ProtectedModeMachine m, uint iopl) => m.LoadCode(KernelCode, a =>
    {
        a.push(0u);                          // GS
        a.push(0u);                          // FS
        a.push(0u);                          // DS
        a.push((uint)V86Extra);              // ES
        a.push((uint)V86Stack);              // SS
        a.push((uint)V86StackPointer);       // ESP
        a.push(EflagsBits.VM | iopl | EflagsBits.Reserved1);
        a.push((uint)V86Code);               // CS
        a.push(0u);                          // EIP
        a.iretd();
    });

    private static int LoadV86Code(ProtectedModeMachine m, Action<Assembler> build)
    {
        var a = new Assembler(16);
        build(a);
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0);
        m.Bus.Load(V86Code * 16u, stream.ToArray());
        return (int)stream.Length;
    }
}
