using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Cpu.Translation;
using SplitEmu.Tests.Cpu.Infrastructure;
using SplitEmu.Tests.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu.Multiprocessor;

/// <summary>
/// LOCK'ed read-modify-write instructions and XCHG are atomic across CPUs sharing one RAM: several CPUs, a thread
/// each, hammer shared counters of every size and alignment (and a spinlock-protected plain counter), and every
/// update must be in the final values. Without atomicity updates get lost and the counts come out short.
/// </summary>
public sealed class LockedOperationAtomicityTests
{
    /// <summary>Loop passes per CPU: enough for lost updates to show many times over when two threads race.</summary>
    private const int Iterations = 200_000;

    private const uint Counters = DataPage;
    private const uint IncDword = Counters + 0x00;
    private const uint AddWord = Counters + 0x04;
    private const uint XaddByte = Counters + 0x08;
    private const uint SubDword = Counters + 0x0C;
    private const uint AdcDword = Counters + 0x10;
    private const uint SbbDword = Counters + 0x14;
    private const uint CmpxchgDword = Counters + 0x18;
    private const uint Cmpxchg8bQword = Counters + 0x20;
    private const uint BitFlags = Counters + 0x28;
    private const uint Errors = Counters + 0x2C;
    private const uint SpinLock = Counters + 0x40;
    private const uint Protected = Counters + 0x80;
    /// <summary>A word at an odd address: swapped through the aligned dword that holds it.</summary>
    private const uint UnalignedWord = Counters + 0x101;
    /// <summary>A dword across an 8-byte boundary (0x206..0x209): the split lock, within one page.</summary>
    private const uint StraddlingDword = Counters + 0x206;
    /// <summary>A dword across the page boundary (two host pointers): the split lock.</summary>
    private const uint PageCrossingDword = Counters + 0x1000 - 2;

    public static TheoryData<CpuExecutionMode, int> Machines => new()
    {
        { CpuExecutionMode.Interpreter, 2 },
        { CpuExecutionMode.Interpreter, 4 },
        { CpuExecutionMode.Translator, 2 },
        { CpuExecutionMode.Translator, 4 },
    };

    [Theory]
    [MemberData(nameof(Machines))]
    public void LockedUpdatesFromSeveralCpus_AllLand(CpuExecutionMode mode, int cpuCount)
    {
        using var m = new ProtectedModeMachine();
        m.Cpu.ExecutionMode = mode;
        m.Cpu.TranslationThreshold = 1;
        m.LoadCode(KernelCode, HammerCounters);
        var cpus = new List<X86Cpu> { m.Cpu };
        for (int i = 1; i < cpuCount; i++)
            cpus.Add(m.AddProcessor(KernelCode, KernelStackTop - (uint)i * 0x400));
        for (int i = 0; i < cpuCount; i++)
            cpus[i].State.Gpr[Gpr.Rsi] = (ulong)i; // its bit in BitFlags

        IReadOnlyList<int> running = ProcessorThreads.RunUntilHalted(cpus, TestDeadlines.Seconds(30));

        Assert.Empty(running);
        uint total = (uint)(Iterations * cpuCount);
        Assert.Equal(0u, m.ReadU32(Errors)); // BTS found its own bit set, or BTR found it clear
        Assert.Equal(0u, m.ReadU32(BitFlags));
        Assert.Equal(total, m.ReadU32(IncDword));
        Assert.Equal((ushort)(3 * total), (ushort)m.ReadU32(AddWord));
        Assert.Equal((byte)total, m.Bus.Ram[(int)XaddByte]);
        Assert.Equal(0u - 2 * total, m.ReadU32(SubDword));
        Assert.Equal(total, m.ReadU32(AdcDword));
        Assert.Equal(0u - total, m.ReadU32(SbbDword));
        Assert.Equal(total, m.ReadU32(CmpxchgDword));
        Assert.Equal((ulong)total, BitConverter.ToUInt64(m.Bus.Ram.Slice((int)Cmpxchg8bQword, 8)));
        Assert.Equal(total, m.ReadU32(Protected));
        Assert.Equal((ushort)total, BitConverter.ToUInt16(m.Bus.Ram.Slice((int)UnalignedWord, 2)));
        Assert.Equal(total, m.ReadU32(StraddlingDword));
        Assert.Equal(total, m.ReadU32(PageCrossingDword));
    }

    /// <summary>Every CPU runs this with ESI = its index: each pass updates every counter once.</summary>
    private static void HammerCounters(Assembler a)
    {
        Label loop = a.CreateLabel(), cas = a.CreateLabel(), cas8 = a.CreateLabel(), spin = a.CreateLabel();
        a.mov(edi, Iterations);
        a.Label(ref loop);
        a.@lock.inc(__dword_ptr[IncDword]);
        a.@lock.add(__word_ptr[AddWord], 3);
        a.mov(dl, 1);
        a.@lock.xadd(__byte_ptr[XaddByte], dl);
        a.@lock.sub(__dword_ptr[SubDword], 2);
        a.stc();
        a.@lock.adc(__dword_ptr[AdcDword], 0);
        a.stc();
        a.@lock.sbb(__dword_ptr[SbbDword], 0);

        // Increment through a CMPXCHG loop, as lock-free code does.
        a.Label(ref cas);
        a.mov(eax, __dword_ptr[CmpxchgDword]);
        a.lea(ebx, __dword_ptr[eax + 1]);
        a.@lock.cmpxchg(__dword_ptr[CmpxchgDword], ebx);
        a.jne(cas);

        // A 64-bit increment through CMPXCHG8B.
        a.Label(ref cas8);
        a.mov(eax, __dword_ptr[Cmpxchg8bQword]);
        a.mov(edx, __dword_ptr[Cmpxchg8bQword + 4]);
        a.mov(ebx, eax);
        a.mov(ecx, edx);
        a.add(ebx, 1);
        a.adc(ecx, 0);
        a.@lock.cmpxchg8b(__qword_ptr[Cmpxchg8bQword]);
        a.jne(cas8);

        // This CPU's own bit: BTS must find it clear (CF 0) and BTR set (CF 1); a lost update breaks one or the other.
        a.@lock.bts(__dword_ptr[BitFlags], esi);
        a.@lock.adc(__dword_ptr[Errors], 0);
        a.@lock.btr(__dword_ptr[BitFlags], esi);
        a.cmc();
        a.@lock.adc(__dword_ptr[Errors], 0);

        // A plain increment inside an XCHG spinlock.
        a.Label(ref spin);
        a.mov(eax, 1);
        a.xchg(__dword_ptr[SpinLock], eax);
        a.test(eax, eax);
        a.jnz(spin);
        a.inc(__dword_ptr[Protected]);
        a.mov(__dword_ptr[SpinLock], 0);

        a.@lock.inc(__word_ptr[UnalignedWord]);
        a.@lock.inc(__dword_ptr[StraddlingDword]);
        a.@lock.inc(__dword_ptr[PageCrossingDword]);
        a.dec(edi);
        a.jnz(loop);
        a.hlt();
    }
}
