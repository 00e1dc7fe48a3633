using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Cpu;

/// <summary>The Run contract: budgets, RequestStop from another thread, and an allocation-free hot path.</summary>
public sealed class RunControlTests
{
    [Fact]
    public void Run_WithBudget_RetiresExactlyTheBudget()
    {
        using var m = new ProtectedModeMachine();
        LoadSpinLoop(m);

        CpuRunResult result = m.Run(budget: 12_345);

        Assert.Equal(new CpuRunResult(CpuStopReason.BudgetExhausted, 12_345), result);
        Assert.Equal(12_345, m.Cpu.InstructionsExecuted);
    }

    [Fact]
    public async Task RequestStop_FromAnotherThread_EndsRunAtABoundary()
    {
        // Not disposed on timeout: the runaway Run would still be using the machine's RAM.
        var m = new ProtectedModeMachine();
        LoadSpinLoop(m);
        using var started = new ManualResetEventSlim();

        Task<CpuRunResult> runner = Task.Run(() =>
        {
            started.Set();
            return m.Run(budget: long.MaxValue);
        });
        started.Wait();
        m.Cpu.RequestStop();
        CpuRunResult result = await runner.WaitAsync(TestDeadlines.Seconds(30)); // TimeoutException if ignored

        Assert.Equal(CpuStopReason.StopRequested, result.Reason);
        m.Dispose();
    }

    [Fact]
    public void Run_SteadyState_DoesNotAllocate()
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            var next = a.CreateLabel();
            a.mov(esi, DataPage);
            a.Label(ref next);
            a.mov(eax, __dword_ptr[esi + ecx * 4]);
            a.add(eax, ebx);
            a.rol(ebx, 3);
            a.mov(__dword_ptr[esi + ecx * 4], eax);
            a.inc(ecx);
            a.and(ecx, 255);
            a.push(eax);
            a.pop(edx);
            a.jmp(next);
        });
        m.Run(budget: 100_000); // warm-up: decode, TLB, JIT

        // Steady state: a run of a million instructions allocates nothing. On a loaded machine the runtime may
        // still be moving the interpreter's methods to their optimised tier during the first measured run (seen
        // once in a full suite: 7,448 bytes), so the best of three runs is the steady state's figure.
        long fewest = long.MaxValue;
        for (int run = 0; run < 3 && fewest > 0; run++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            m.Run(budget: 1_000_000);
            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, fewest);
    }

    private static void LoadSpinLoop(ProtectedModeMachine m) => m.LoadCode(KernelCode, a =>
    {
        var spin = a.CreateLabel();
        a.Label(ref spin);
        a.inc(eax);
        a.jmp(spin);
    });
}
