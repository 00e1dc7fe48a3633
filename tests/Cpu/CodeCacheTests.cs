using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>The decoded-instruction cache never runs stale code: guest stores and DMA invalidate it.</summary>
public sealed class CodeCacheTests
{
    [Fact]
    public void GuestStoreIntoCachedCode_NextExecutionSeesNewBytes()
    {
        using var m = new ProtectedModeMachine();
        // Runs "mov eax, imm32" twice; between the runs the guest rewrites its immediate.
        m.LoadCode(KernelCode, a =>
        {
            var patched = a.CreateLabel();
            var done = a.CreateLabel();
            a.xor(ecx, ecx);
            a.Label(ref patched);
            a.mov(eax, 1u);                                   // B8 01 00 00 00 at KernelCode + 2
            a.inc(ecx);
            a.cmp(ecx, 2);
            a.je(done);
            a.mov(__dword_ptr[KernelCode + 3], 2u);           // overwrite the immediate
            a.jmp(patched);
            a.Label(ref done);
            a.hlt();
        });

        m.Run();

        Assert.Equal(2ul, m.Cpu.State.Rax);
    }

    [Fact]
    public void InvalidateCode_AfterExternalWrite_RunsTheNewInstruction()
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, 1u);
            a.hlt();
        });
        m.Run();

        m.Bus.Ram[(int)KernelCode + 1] = 7;   // a DMA write: the CPU does not see it happen
        m.Cpu.InvalidateCode(KernelCode + 1, 1);
        m.Cpu.State.Rip = KernelCode;
        m.Cpu.State.Halted = false;
        m.Run();

        Assert.Equal(7ul, m.Cpu.State.Rax);
    }

    [Fact]
    public void MapGenerationChange_DropsCachedTranslations()
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, 1u);
            a.hlt();
        });
        m.Run();

        m.Bus.Ram[(int)KernelCode + 1] = 9; // the new map shows different bytes there
        m.Bus.MapGeneration++;
        m.Cpu.State.Rip = KernelCode;
        m.Cpu.State.Halted = false;
        m.Run();

        Assert.Equal(9ul, m.Cpu.State.Rax);
    }
}
