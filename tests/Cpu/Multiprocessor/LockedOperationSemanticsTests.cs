using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Cpu.Translation;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu.Multiprocessor;

/// <summary>
/// The atomic path of LOCK'ed instructions computes what the plain path does: the same program with and without
/// LOCK prefixes ends in the same registers, flags and memory, in every size, alignment and addressing form; a fault
/// on a locked operand changes nothing; LOCK where it is not allowed is still #UD.
/// </summary>
public sealed class LockedOperationSemanticsTests
{
    private const uint Data = DataPage;

    public static TheoryData<CpuExecutionMode> Modes => new() { CpuExecutionMode.Interpreter, CpuExecutionMode.Translator };

    [Theory]
    [MemberData(nameof(Modes))]
    public void LockedReadModifyWrite_MatchesThePlainInstructions(CpuExecutionMode mode)
    {
        using ProtectedModeMachine plain = Run(CpuExecutionMode.Interpreter, locked: false);
        using ProtectedModeMachine locked = Run(mode, locked: true);

        ref CpuState e = ref plain.Cpu.State;
        ref CpuState a = ref locked.Cpu.State;
        for (int r = 0; r < 8; r++)
            Assert.True(e.Gpr[r] == a.Gpr[r], $"GPR {r}: {a.Gpr[r]:x} locked, {e.Gpr[r]:x} plain");
        Assert.Equal(e.Eflags, a.Eflags);
        Assert.True(plain.Bus.Ram.Slice((int)Data - 0x1000, 0x3000).SequenceEqual(locked.Bus.Ram.Slice((int)Data - 0x1000, 0x3000)), "data differs");
        Assert.True(plain.Bus.Ram.Slice(0x8000, 0x1000).SequenceEqual(locked.Bus.Ram.Slice(0x8000, 0x1000)), "the flags pushed after each instruction differ");
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void LockedOperandOnNotPresentPage_FaultsAndChangesNothing(CpuExecutionMode mode)
    {
        using var m = new ProtectedModeMachine();
        m.Cpu.ExecutionMode = mode;
        m.Cpu.TranslationThreshold = 1;
        m.EnableIdentityPaging();
        m.SetPte(Data + 0x1000, 0); // the page after Data is not present
        m.WriteU32(Data + 0xFFC, 0x1122_3344);
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, 5);
            a.@lock.inc(__dword_ptr[Data + 0xFFE]); // crosses into the missing page: the split-lock path
            a.hlt();
        });

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.PageFault), m.Eip);
        Assert.Equal(0x1122_3344u, m.ReadU32(Data + 0xFFC)); // the first page's bytes are untouched
        Assert.Equal(5ul, m.Cpu.State.Gpr[Gpr.Rax]);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void LockedXaddOnNotPresentPage_FaultsAndKeepsTheRegister(CpuExecutionMode mode)
    {
        using var m = new ProtectedModeMachine();
        m.Cpu.ExecutionMode = mode;
        m.Cpu.TranslationThreshold = 1;
        m.EnableIdentityPaging();
        m.SetPte(Data, 0);
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, 5);
            a.@lock.xadd(__dword_ptr[Data + 8], eax);
            a.hlt();
        });

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.PageFault), m.Eip);
        Assert.Equal((ulong)Data + 8, m.Cpu.State.Cr2);
        Assert.Equal(5ul, m.Cpu.State.Gpr[Gpr.Rax]);
    }

    [Theory]
    [InlineData(new byte[] { 0xF0, 0x01, 0xD8 })]       // lock add eax, ebx: no memory operand
    [InlineData(new byte[] { 0xF0, 0x89, 0x03 })]       // lock mov [ebx], eax: not a read-modify-write
    [InlineData(new byte[] { 0xF0, 0x87, 0xC3 })]       // lock xchg ebx, eax: registers only
    public void LockPrefixWhereNotAllowed_RaisesInvalidOpcode(byte[] encoding)
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            a.mov(ebx, Data);
            a.db(encoding);
            a.hlt();
        });

        m.Run();

        Assert.Equal(AfterHandler(ExceptionVector.InvalidOpcode), m.Eip);
    }

    private static ProtectedModeMachine Run(CpuExecutionMode mode, bool locked)
    {
        var m = new ProtectedModeMachine();
        m.Cpu.ExecutionMode = mode;
        m.Cpu.TranslationThreshold = 1;
        for (int i = 0; i < 0x800; i++)
            m.WriteU32(Data - 0x1000 + (ulong)i * 4, (uint)(i * 0x9E3779B1));
        m.LoadCode(KernelCode, a => Program(a, locked));
        CpuRunResult result = m.Run();
        Assert.Equal(CpuStopReason.Halted, result.Reason);
        return m;
    }

    /// <summary>Every lockable instruction, in several sizes and forms, each followed by a PUSHFD of its flags.</summary>
    private static void Program(Assembler a, bool locked)
    {
        Assembler L() => locked ? a.@lock : a;
        void Flags() => a.pushfd();
        a.mov(ebx, Data);
        a.mov(esi, 5);
        a.mov(eax, 0x8000_0001);
        a.mov(ecx, 0x7FFF_FFFF);
        a.mov(edx, 0x1234);
        L().add(__dword_ptr[ebx], eax); Flags();
        a.stc();
        L().adc(__dword_ptr[ebx + 4], ecx); Flags();
        a.stc();
        L().sbb(__word_ptr[ebx + esi * 2 + 6], dx); Flags();
        L().sub(__byte_ptr[ebx + 1], 0x90); Flags();
        L().and(__dword_ptr[ebx + 8], unchecked((int)0xF0F0_F0F0)); Flags();
        L().or(__word_ptr[ebx + 13], 0x7001); Flags();             // an odd address: through the aligned dword
        L().xor(__dword_ptr[ebx + 0x1E], ecx); Flags();            // across an 8-byte boundary: the split lock
        L().add(__dword_ptr[ebx - 2], ecx); Flags();               // across a page boundary: the split lock
        L().inc(__byte_ptr[ebx + 3]); Flags();
        L().dec(__word_ptr[ebx + 0x22]); Flags();
        L().neg(__dword_ptr[ebx + 0x24]); Flags();
        L().not(__dword_ptr[ebx + 0x28]); Flags();
        L().bts(__dword_ptr[ebx], 31); Flags();
        L().btr(__word_ptr[ebx + 4], 3); Flags();
        L().btc(__dword_ptr[ebx + 8], edx); Flags();               // a register offset beyond the dword
        a.mov(edi, -40);
        L().bts(__dword_ptr[ebx + 0x40], edi); Flags();            // a negative register offset
        L().xadd(__dword_ptr[ebx + 0x2C], eax); Flags();
        L().xadd(__byte_ptr[ebx + 0x30], cl); Flags();
        L().xadd(__word_ptr[ebx + 0x31], dx); Flags();             // an odd word
        a.mov(eax, __dword_ptr[ebx + 0x34]);
        L().cmpxchg(__dword_ptr[ebx + 0x34], ecx); Flags();        // equal: stores ECX
        L().cmpxchg(__dword_ptr[ebx + 0x34], edx); Flags();        // not equal: loads EAX
        L().cmpxchg(__byte_ptr[ebx + 0x35], dh); Flags();
        a.mov(eax, __dword_ptr[ebx + 0x38]);
        a.mov(edx, __dword_ptr[ebx + 0x3C]);
        L().cmpxchg8b(__qword_ptr[ebx + 0x38]); Flags();           // equal: stores ECX:EBX
        L().cmpxchg8b(__qword_ptr[ebx + 0x38]); Flags();           // not equal now: loads EDX:EAX
        L().cmpxchg8b(__qword_ptr[ebx + 0x7C]); Flags();           // across an 8-byte boundary
        a.mov(ebx, Data);
        a.xchg(__dword_ptr[ebx + 0x44], edx); Flags();             // XCHG is locked either way
        a.xchg(__byte_ptr[ebx + 0x47], ah); Flags();
        a.hlt();
    }
}
