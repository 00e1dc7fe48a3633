using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>Protection checks of the Intel SDM vol. 3 ch. 5 and 6 as seen from ring 3.</summary>
public sealed class PrivilegeTests
{
    [Fact]
    public void Cli_AtRing3WithIopl0_RaisesGeneralProtectionWithErrorCode0()
    {
        using var m = new ProtectedModeMachine();
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a => a.cli());

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal(0u, m.Stack(0));
        Assert.Equal(UserCode, m.Stack(4));
    }

    [Fact]
    public void Cli_AtRing3WithIopl3_IsAllowed()
    {
        using var m = new ProtectedModeMachine();
        m.EnterUserModeFromKernel(userEflags: 0x3202); // IOPL 3, IF 1
        m.LoadCode(UserCode, a =>
        {
            a.cli();
            a.int3();
        });
        m.SetInterruptGate(ExceptionVector.Breakpoint, trap: true, dpl: 3);

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.Breakpoint), m.Eip);
        Assert.Equal(0u, m.Stack(8) & EflagsBits.IF); // EFLAGS pushed by INT3: CLI took effect
    }

    [Fact]
    public void Hlt_AtRing3_RaisesGeneralProtection()
    {
        using var m = new ProtectedModeMachine();
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a => a.hlt());

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal(UserCode, m.Stack(4));
    }

    [Fact]
    public void IntN_FromRing3ThroughDpl0Gate_RaisesGeneralProtectionNamingTheGate()
    {
        const int vector = 0x81;
        using var m = new ProtectedModeMachine();
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a => a.@int(vector));

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal((uint)(vector * 8 + 2), m.Stack(0)); // IDT index, IDT bit set
    }

    [Fact]
    public void IntN_FromRing3ThroughDpl3Gate_SwitchesToTssStackAndPushesReturnFrame()
    {
        const int vector = 0x80;
        using var m = new ProtectedModeMachine();
        m.SetInterruptGate(vector, trap: true, dpl: 3);
        m.EnterUserModeFromKernel();
        int length = m.LoadCode(UserCode, a => a.@int(vector));

        m.Run();

        Assert.Equal(AfterHandler(vector), m.Eip);
        Assert.Equal(0, m.Cpu.State.Cpl);
        Assert.Equal(KernelStackTop - 20, m.Esp);
        Assert.Equal(UserCode + (uint)length, m.Stack(0));  // return EIP: the next instruction
        Assert.Equal(UserCodeSelector, m.Stack(4));
        Assert.Equal(UserStackTop, m.Stack(12));
        Assert.Equal(UserDataSelector, m.Stack(16));
    }

    [Fact]
    public void MovDs_Ring0SelectorAtRing3_RaisesGeneralProtectionWithSelector()
    {
        using var m = new ProtectedModeMachine();
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a =>
        {
            a.mov(ax, KernelDataSelector);
            a.mov(ds, ax);
        });

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal((uint)KernelDataSelector, m.Stack(0));
    }

    [Fact]
    public void Read_BeyondSegmentLimit_RaisesGeneralProtection()
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            a.mov(ax, SmallDataSelector);
            a.mov(es, ax);
            a.mov(eax, __dword_ptr.es[0xFFE]); // bytes 0xFFE..0x1001 cross the limit 0xFFF
        });

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.GeneralProtection), m.Eip);
        Assert.Equal(0u, m.Stack(0));
    }

    [Fact]
    public void IretToRing3_ThenRing0DataSegmentsInDsAreNulled()
    {
        using var m = new ProtectedModeMachine();
        m.EnterUserModeFromKernel(loadUserDataSegments: false);
        m.LoadCode(UserCode, a => a.jmp(UserCode));

        m.Run(budget: 100);

        Assert.Equal(3, m.Cpu.State.Cpl);
        Assert.Equal(UserCodeSelector, m.Cpu.State.Segments[SegmentIndex.CS].Selector);
        Assert.Equal(0, m.Cpu.State.Segments[SegmentIndex.DS].Selector); // DPL 0 data is not usable at ring 3
    }

    [Fact]
    public void CallGate_FromRing3_RunsRing0OnTssStackWithCopiedParameterAndRetfReturns()
    {
        const uint parameter = 0x55;
        using var m = new ProtectedModeMachine();
        m.LoadCode(CallGateTarget, a =>
        {
            a.mov(eax, __dword_ptr[esp + 8]);   // [esp] EIP, [esp+4] CS, [esp+8] the copied parameter
            a.mov(ebx, __dword_ptr[esp + 16]);  // caller's SS
            a.retf(4);
        });
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a =>
        {
            var spin = a.CreateLabel();
            a.push(parameter);
            a.call(CallGateSelector, 0);
            a.Label(ref spin);
            a.jmp(spin);
        });

        m.Run(budget: 100);

        Assert.Equal(3, m.Cpu.State.Cpl);
        Assert.Equal(parameter, (uint)m.Cpu.State.Rax);
        Assert.Equal(UserDataSelector, (uint)m.Cpu.State.Rbx);
        Assert.Equal(UserStackTop, m.Esp); // RETF 4 released the parameter on the outer stack
    }
}
