using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>Hardware task switches (Intel SDM vol. 3 ch. 8): through a TSS, a task gate, IRET with NT, and #DF.</summary>
public sealed class TaskSwitchTests
{
    private const uint SecondTaskCode = 0x12000;
    private const uint SecondTaskStack = 0x1F000;
    private const ulong BusyBit = 1UL << 41;
    private const uint TssEip = 0x20, TssEax = 0x28, TssLink = 0x00;

    [Fact]
    public void JmpToTss_SavesOutgoingTaskAndRunsIncomingOne()
    {
        using var m = new ProtectedModeMachine();
        m.PrepareSecondTask(SecondTaskCode, SecondTaskStack);
        m.LoadCode(SecondTaskCode, a => a.hlt());
        int jumpLength = m.LoadCode(KernelCode, a => a.jmp(SecondTssSelector, 0));

        m.Run();

        Assert.Equal(SecondTaskCode + 1, m.Eip);
        Assert.Equal(SecondTssSelector, m.Cpu.State.Tr.Selector);
        Assert.Equal(SecondTaskStack, m.Esp);
        Assert.Equal(KernelCode + (uint)jumpLength, m.ReadU32(TssBase + TssEip)); // outgoing EIP saved
        Assert.Equal(0UL, Descriptor(m, TssSelector) & BusyBit);                  // JMP frees the old task
        Assert.NotEqual(0UL, Descriptor(m, SecondTssSelector) & BusyBit);
        Assert.NotEqual(0UL, m.Cpu.State.Cr0 & ControlRegisters.Cr0Ts);
        Assert.Equal(0u, m.Cpu.State.Eflags & EflagsBits.NT);
    }

    [Fact]
    public void CallThroughTaskGate_ThenIret_ReturnsToCallerTask()
    {
        using var m = new ProtectedModeMachine();
        m.PrepareSecondTask(SecondTaskCode, SecondTaskStack);
        m.LoadCode(SecondTaskCode, a =>
        {
            a.mov(eax, 0x42);
            a.iretd();
        });
        int callLength = m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, 7);
            a.call(TaskGateSelector, 0);
            a.hlt();
        }) - 1;

        m.Run();

        Assert.Equal(KernelCode + (uint)callLength + 1, m.Eip);           // after the HLT following the CALL
        Assert.Equal(TssSelector, m.Cpu.State.Tr.Selector);
        Assert.Equal(7ul, m.Cpu.State.Rax);                                  // caller's registers restored
        Assert.Equal(0x42u, m.ReadU32(SecondTssBase + TssEax));             // callee's saved on the way out
        Assert.Equal(TssSelector, (ushort)m.ReadU32(SecondTssBase + TssLink)); // back link written by CALL
        Assert.Equal(0UL, Descriptor(m, SecondTssSelector) & BusyBit);      // IRET frees the nested task
    }

    [Fact]
    public void DoubleFault_ThroughTaskGate_RunsOnItsOwnStackWithErrorCode()
    {
        using var m = new ProtectedModeMachine();
        m.PrepareSecondTask(SecondTaskCode, SecondTaskStack);
        m.LoadCode(SecondTaskCode, a => a.hlt());
        m.SetTaskGate(ExceptionVector.DoubleFault);
        m.WriteU64(IdtBase + ExceptionVector.GeneralProtection * 8, 0); // #GP not present: #NP during #GP → #DF
        m.LoadCode(KernelCode, a =>
        {
            a.mov(esp, 0x100);   // a stack a handler could not use
            a.cli();
            a.mov(ax, 0);
            a.mov(ss, ax);       // null SS: #GP
        });

        m.Run();

        Assert.Equal(SecondTaskCode + 1, m.Eip);
        Assert.Equal(SecondTaskStack - 4, m.Esp);
        Assert.Equal(0u, m.Stack(0));                          // #DF error code on the new task's stack
        Assert.NotEqual(0u, m.Cpu.State.Eflags & EflagsBits.NT); // nested: IRET would return to the faulting task
    }

    private static ulong Descriptor(ProtectedModeMachine m, ushort selector)
        => BitConverter.ToUInt64(m.Bus.Ram.Slice((int)(GdtBase + (uint)(selector & 0xFFF8)), 8));
}
