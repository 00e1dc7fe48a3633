using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>Non-maskable interrupts (Intel SDM vol. 3, 6.7.1): not masked by IF, wake HLT, blocked until the handler's IRET.</summary>
public sealed class NmiTests
{
    /// <summary>Where the counting NMI handler of <see cref="Nmi_DuringTheHandler_WaitsForItsIret"/> lives.</summary>
    private const uint CountingHandler = 0x12000;

    [Fact]
    public void Nmi_WithInterruptsDisabled_IsDeliveredThroughVector2()
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            var spin = a.CreateLabel();
            a.cli();
            a.Label(ref spin);
            a.jmp(spin);
        });
        m.Run(budget: 100);

        m.Cpu.RaiseNmi();
        CpuRunResult result = m.Run(budget: 100);

        Assert.Equal(CpuStopReason.Halted, result.Reason);
        Assert.Equal(AfterHandler(ExceptionVector.Nmi), m.Eip);
        Assert.False(m.Cpu.NmiPending);
        Assert.True(m.Cpu.State.NmiBlocked);
    }

    [Fact]
    public void Nmi_WakesAHaltedCpuWithInterruptsDisabled()
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            a.cli();
            a.hlt();
        });
        Assert.Equal(CpuStopReason.Halted, m.Run().Reason);

        m.Cpu.RaiseNmi();
        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.Nmi), m.Eip);
        Assert.Equal(KernelCode + 2, m.Stack(0)); // it returns after the HLT
    }

    [Fact]
    public void Nmi_DuringTheHandler_WaitsForItsIret()
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(HandlerAddress(ExceptionVector.Nmi), a => a.jmp(CountingHandler));
        m.LoadCode(CountingHandler, a =>
        {
            // EBX counts deliveries, ESI is the nesting depth, EDI the deepest nesting seen.
            var notDeeper = a.CreateLabel();
            a.inc(ebx);
            a.inc(esi);
            a.cmp(esi, edi);
            a.jbe(notDeeper);
            a.mov(edi, esi);
            a.Label(ref notDeeper);
            for (int i = 0; i < 20; i++)
            {
                a.nop();
            }

            a.dec(esi);
            a.iretd();
        });
        m.LoadCode(KernelCode, a =>
        {
            var spin = a.CreateLabel();
            a.cli();
            a.xor(ebx, ebx);
            a.xor(esi, esi);
            a.xor(edi, edi);
            a.Label(ref spin);
            a.jmp(spin);
        });
        m.Run(budget: 100);

        m.Cpu.RaiseNmi();
        m.Run(budget: 3); // delivered, then the jump and the first INC of the handler
        m.Cpu.RaiseNmi(); // arrives while the handler runs
        m.Run(budget: 1000);

        Assert.Equal(2ul, m.Cpu.State.Rbx);  // both delivered
        Assert.Equal(1ul, m.Cpu.State.Rdi);  // never nested
        Assert.False(m.Cpu.State.NmiBlocked);
    }

    [Fact]
    public void TwoNmisBeforeDelivery_AreOne()
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(HandlerAddress(ExceptionVector.Nmi), a => a.jmp(CountingHandler));
        m.LoadCode(CountingHandler, a =>
        {
            a.inc(ebx);
            a.iretd();
        });
        m.LoadCode(KernelCode, a =>
        {
            var spin = a.CreateLabel();
            a.xor(ebx, ebx);
            a.Label(ref spin);
            a.jmp(spin);
        });
        m.Run(budget: 100);

        m.Cpu.RaiseNmi();
        m.Cpu.RaiseNmi();
        m.Run(budget: 1000);

        Assert.Equal(1ul, m.Cpu.State.Rbx); // an edge-triggered latch
    }
}
