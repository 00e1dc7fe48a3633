using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>Exception and interrupt delivery (Intel SDM vol. 3 ch. 6): gates, HLT wake-up, faults, #DF and shutdown.</summary>
public sealed class InterruptTests
{
    private const byte TimerVector = 0x20;

    [Theory]
    [InlineData(false, 0u)]             // interrupt gate: IF cleared in the handler
    [InlineData(true, EflagsBits.IF)]   // trap gate: IF kept
    public void SoftwareInterrupt_GateTypeDecidesIf(bool trapGate, uint expectedIf)
    {
        const int vector = 0x40;
        using var m = new ProtectedModeMachine();
        m.SetInterruptGate(vector, trapGate, dpl: 0);
        m.LoadCode(KernelCode, a =>
        {
            a.sti();
            a.@int(vector);
        });

        m.Run();

        Assert.Equal(AfterHandler(vector), m.Eip);
        Assert.Equal(expectedIf, m.Cpu.State.Eflags & EflagsBits.IF);
        Assert.Equal(EflagsBits.IF, m.Stack(8) & EflagsBits.IF); // the pushed EFLAGS had IF set
    }

    [Fact]
    public void PopfSettingTf_TrapsAfterTheFollowingInstruction()
    {
        using var m = new ProtectedModeMachine();
        int beforeSecondNop = m.LoadCode(KernelCode, a =>
        {
            a.pushfd();
            a.or(__dword_ptr[esp], (int)EflagsBits.TF);
            a.popfd();
            a.nop();          // the first instruction run with TF set
            a.nop();
        }) - 1;

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.Debug), m.Eip);
        Assert.Equal(KernelCode + (uint)beforeSecondNop, m.Stack(0)); // a trap: EIP of the next instruction
        Assert.Equal(EflagsBits.TF, m.Stack(8) & EflagsBits.TF);
        Assert.Equal(0u, m.Cpu.State.Eflags & EflagsBits.TF);          // the handler runs with TF clear
    }

    [Fact]
    public void DivideByZero_RaisesDivideErrorPointingAtTheDiv()
    {
        using var m = new ProtectedModeMachine();
        int setup = m.LoadCode(KernelCode, a =>
        {
            a.xor(ecx, ecx);
            a.div(ecx);
        }) - 2;

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.DivideError), m.Eip);
        Assert.Equal(KernelCode + (uint)setup, m.Stack(0)); // faults report the faulting instruction
    }

    [Fact]
    public void ExternalInterrupt_WithIfSet_IsDeliveredAtInstructionBoundary()
    {
        using var m = new ProtectedModeMachine();
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        m.LoadCode(KernelCode, a =>
        {
            var spin = a.CreateLabel();
            a.sti();
            a.Label(ref spin);
            a.jmp(spin);
        });
        m.Run(budget: 1000);

        pic.Raise(TimerVector);
        m.Cpu.NotifyInterruptPending();
        CpuRunResult result = m.Run(budget: 1000);

        Assert.Equal(CpuStopReason.Halted, result.Reason);
        Assert.Equal(AfterHandler(TimerVector), m.Eip);
        Assert.Equal(1, pic.Acknowledged);
    }

    [Fact]
    public void Sti_WithInterruptAlreadyPending_RunsOneMoreInstructionFirst()
    {
        using var m = new ProtectedModeMachine();
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        m.LoadCode(KernelCode, a =>
        {
            var spin = a.CreateLabel();
            a.sti();          // 1 byte
            a.inc(eax);       // 1 byte: runs in the STI shadow
            a.Label(ref spin);
            a.jmp(spin);
        });
        pic.Raise(TimerVector);
        m.Cpu.NotifyInterruptPending();

        m.Run(budget: 1000);

        Assert.Equal(AfterHandler(TimerVector), m.Eip);
        Assert.Equal(1ul, m.Cpu.State.Rax);
        Assert.Equal(KernelCode + 2, m.Stack(0)); // interrupted right after the shadowed instruction
    }

    [Fact]
    public void ExternalInterrupt_WithIfClear_StaysPending()
    {
        using var m = new ProtectedModeMachine();
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        m.LoadCode(KernelCode, a =>
        {
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        });
        pic.Raise(TimerVector);
        m.Cpu.NotifyInterruptPending();

        CpuRunResult result = m.Run(budget: 1000);

        Assert.Equal(CpuStopReason.BudgetExhausted, result.Reason);
        Assert.Equal(0, pic.Acknowledged);
    }

    [Fact]
    public void Hlt_ReturnsHaltedAndWakesOnInterrupt()
    {
        using var m = new ProtectedModeMachine();
        var pic = new FakeInterruptController();
        m.Cpu.InterruptController = pic;
        int length = m.LoadCode(KernelCode, a =>
        {
            a.sti();
            a.hlt();
        });

        CpuRunResult halted = m.Run();
        CpuRunResult stillHalted = m.Run();
        pic.Raise(TimerVector);
        m.Cpu.NotifyInterruptPending();
        m.Run();

        Assert.Equal(CpuStopReason.Halted, halted.Reason);
        Assert.Equal(CpuStopReason.Halted, stillHalted.Reason);
        Assert.Equal(0, stillHalted.Instructions);
        Assert.Equal(AfterHandler(TimerVector), m.Eip);
        Assert.Equal(KernelCode + (uint)length, m.Stack(0)); // returns after the HLT
    }

    [Fact]
    public void FaultWhileDeliveringFault_BecomesDoubleFault()
    {
        using var m = new ProtectedModeMachine();
        // #GP's gate is not present: delivering #GP raises #NP, and #GP + #NP (both contributory) give #DF.
        m.WriteU64(IdtBase + ExceptionVector.GeneralProtection * 8, 0);
        m.EnterUserModeFromKernel();
        m.LoadCode(UserCode, a => a.hlt()); // HLT at ring 3: #GP

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.DoubleFault), m.Eip);
        Assert.Equal(0u, m.Stack(0)); // #DF pushes an error code of 0
    }

    [Fact]
    public void FaultWithNoUsableIdt_ShutsDown()
    {
        using var m = new ProtectedModeMachine();
        m.Cpu.State.Idtr.Limit = 0; // every vector is outside the IDT: #GP, then #DF, then shutdown
        m.LoadCode(KernelCode, a => a.ud2());

        CpuRunResult result = m.Run();

        Assert.Equal(CpuStopReason.Shutdown, result.Reason);
        Assert.Equal(CpuStopReason.Shutdown, m.Run().Reason);
    }

    [Fact]
    public void RealModeInt_PushesFlagsCsIpAndJumpsThroughIvt()
    {
        using var bus = new FakeCpuBus(1 << 20);
        var cpu = new X86Cpu(bus);
        const ushort handlerSegment = 0x0800, codeSegment = 0x0000, codeOffset = 0x7C00, stackTop = 0x7000;
        bus.Load(0x21 * 4, [0x10, 0x00, 0x00, 0x08]);          // IVT[21h] = 0800:0010
        bus.Load(handlerSegment * 16 + 0x10, [0xF4]);         // hlt
        bus.Load(codeOffset, [0xCD, 0x21]);                   // int 21h
        ref CpuState s = ref cpu.State;
        s.Segments[SegmentIndex.CS] = new SegmentRegister { Selector = codeSegment, Base = 0, Limit = 0xFFFF, Attributes = DescriptorAttributes.RealModeCode };
        s.Rip = codeOffset;
        s.Gpr[Gpr.Rsp] = stackTop;
        s.Eflags = EflagsBits.Reserved1 | EflagsBits.IF | EflagsBits.CF;

        cpu.Run(10);

        Assert.Equal(handlerSegment, cpu.State.Segments[SegmentIndex.CS].Selector);
        Assert.Equal(0x11ul, cpu.State.Rip);
        Assert.Equal(0u, cpu.State.Eflags & EflagsBits.IF);
        Assert.Equal(stackTop - 6, (int)cpu.State.Rsp);
        Assert.Equal(codeOffset + 2, BitConverter.ToUInt16(bus.Ram.Slice(stackTop - 6, 2)));  // IP after INT
        Assert.Equal(codeSegment, BitConverter.ToUInt16(bus.Ram.Slice(stackTop - 4, 2)));
        Assert.Equal(EflagsBits.Reserved1 | EflagsBits.IF | EflagsBits.CF, BitConverter.ToUInt16(bus.Ram.Slice(stackTop - 2, 2)));
    }
}
