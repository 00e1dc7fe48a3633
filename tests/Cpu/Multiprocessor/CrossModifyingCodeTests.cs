using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Cpu.Translation;
using SplitEmu.Tests.Cpu.Infrastructure;
using SplitEmu.Tests.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu.Multiprocessor;

/// <summary>
/// Cross-modifying code (Intel SDM vol. 3 8.1.3): one CPU rewrites code another CPU has already run; the other waits
/// for a flag the writer sets afterwards, executes a serializing instruction, and must then run the new code, never
/// the code it had cached.
/// </summary>
public sealed class CrossModifyingCodeTests
{
    /// <summary>Rewrites of the function: each one is checked by the executing CPU before the next is made.</summary>
    private const int Generations = 400;

    /// <summary>Code of the writing CPU (the first CPU runs the executing side at <see cref="KernelCode"/>).</summary>
    private const uint WriterCode = KernelCode + 0x2000;
    /// <summary>A page of its own holding the functions the writer patches: <c>mov eax, imm32; ret</c>, then the same with <c>retf</c>.</summary>
    private const uint Function = KernelCode + 0x4000;
    private const uint FarFunction = Function + 0x10;
    /// <summary>The generation the writer has published, the one the executor has checked, and its mismatches.</summary>
    private const uint Flag = DataPage;
    private const uint Acknowledged = DataPage + 4;
    private const uint Errors = DataPage + 8;

    /// <summary>How the executing CPU serializes before it calls the rewritten function.</summary>
    public enum Serialization
    {
        /// <summary>CPUID, then a near call.</summary>
        Cpuid,

        /// <summary>A far call (it loads CS), the function returning with RETF.</summary>
        FarCall,
    }

    public static TheoryData<CpuExecutionMode, Serialization> Cases => new()
    {
        { CpuExecutionMode.Interpreter, Serialization.Cpuid },
        { CpuExecutionMode.Interpreter, Serialization.FarCall },
        { CpuExecutionMode.Translator, Serialization.Cpuid },
        { CpuExecutionMode.Translator, Serialization.FarCall },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CodeRewrittenByAnotherCpu_RunsNewAfterSerializing(CpuExecutionMode mode, Serialization serialization)
    {
        using var m = new ProtectedModeMachine();
        m.Cpu.ExecutionMode = mode;
        m.Cpu.TranslationThreshold = 1;
        m.LoadCode(Function, a =>
        {
            a.mov(eax, 0u);
            a.ret();
        });
        m.LoadCode(FarFunction, a =>
        {
            a.mov(eax, 0u);
            a.retf();
        });
        uint patched = (serialization == Serialization.Cpuid ? Function : FarFunction) + 1; // the imm32 of mov eax
        m.LoadCode(KernelCode, a => Execute(a, serialization));
        m.LoadCode(WriterCode, a => Rewrite(a, patched));
        X86Cpu writer = m.AddProcessor(WriterCode, KernelStackTop - 0x400);

        IReadOnlyList<int> running = ProcessorThreads.RunUntilHalted([m.Cpu, writer], TestDeadlines.Seconds(30));

        Assert.Empty(running);
        Assert.Equal((uint)Generations, m.ReadU32(Acknowledged));
        Assert.Equal(0u, m.ReadU32(Errors)); // a call that returned an older generation: stale code ran
    }

    /// <summary>For each generation: wait for the flag, serialize, call the function, check it returns the generation.</summary>
    private static void Execute(Assembler a, Serialization serialization)
    {
        Label wait = a.CreateLabel(), ok = a.CreateLabel();
        a.mov(edi, 1);
        a.Label(ref wait);
        a.cmp(__dword_ptr[Flag], edi);
        a.jne(wait);
        if (serialization == Serialization.Cpuid)
        {
            a.cpuid();
            a.call(Function);
        }
        else
        {
            a.call(KernelCodeSelector, FarFunction);
        }
        a.cmp(eax, edi);
        a.je(ok);
        a.@lock.inc(__dword_ptr[Errors]);
        a.Label(ref ok);
        a.mov(__dword_ptr[Acknowledged], edi);
        a.inc(edi);
        a.cmp(edi, Generations + 1);
        a.jne(wait);
        a.hlt();
    }

    /// <summary>For each generation: write it into the function's immediate, publish it, wait until it is checked.</summary>
    private static void Rewrite(Assembler a, uint immediate)
    {
        Label generation = a.CreateLabel(), wait = a.CreateLabel();
        a.mov(edi, 1);
        a.Label(ref generation);
        a.mov(__dword_ptr[immediate], edi);
        a.mov(__dword_ptr[Flag], edi);
        a.Label(ref wait);
        a.cmp(__dword_ptr[Acknowledged], edi);
        a.jne(wait);
        a.inc(edi);
        a.cmp(edi, Generations + 1);
        a.jne(generation);
        a.hlt();
    }
}
