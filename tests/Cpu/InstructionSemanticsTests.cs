using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>
/// 32-bit forms of 386/486 instructions the 80286 suite cannot reach, with results worked out from the Intel
/// SDM instruction pages. Each case runs a few instructions and checks EAX..EDX and selected flags.
/// </summary>
public sealed class InstructionSemanticsTests
{
    private const uint CF = EflagsBits.CF, ZF = EflagsBits.ZF, OF = EflagsBits.OF;

    private sealed record Case(Action<Assembler> Code, uint Eax, uint Ebx, uint Ecx, uint Edx, uint FlagMask = 0, uint Flags = 0);

    private static readonly Dictionary<string, Case> s_cases = new()
    {
        ["tzcnt's encoding is bsf on a part without BMI1"] = new(a => { a.mov(ebx, 0x0000_0100); a.db(0xF3, 0x0F, 0xBC, 0xC3); }, 8, 0x100, 0, 0, ZF, 0),
        ["lzcnt's encoding is bsr on a part without LZCNT"] = new(a => { a.mov(ebx, 0x00F0_0000); a.db(0xF3, 0x0F, 0xBD, 0xC3); }, 23, 0x00F0_0000, 0, 0, ZF, 0),
        ["tzcnt's encoding of zero is bsf of zero: ZF set, destination kept"] = new(a => { a.mov(eax, 0x77); a.xor(ebx, ebx); a.db(0x66, 0xF3, 0x0F, 0xBC, 0xC3); }, 0x77, 0, 0, 0, ZF, ZF),
        ["hint nops (prefetch, endbr32, reserved 0F 19) do nothing and touch no memory"] = new(a =>
        {
            a.mov(ebx, 0xFFFF_FFF0); // far outside RAM: an access would fault
            a.db(0x0F, 0x18, 0x03);       // prefetchnta [ebx]
            a.db(0xF3, 0x0F, 0x1E, 0xFB); // endbr32
            a.db(0x0F, 0x19, 0x03);       // reserved nop [ebx]
            a.mov(ecx, 5);
        }, 0, 0xFFFF_FFF0, 5, 0),
        ["bsf finds the lowest set bit"] = new(a => { a.mov(ebx, 0x0000_0100); a.bsf(eax, ebx); }, 8, 0x100, 0, 0, ZF, 0),
        ["bsr finds the highest set bit"] = new(a => { a.mov(ebx, 0x00F0_0000); a.bsr(eax, ebx); }, 23, 0x00F0_0000, 0, 0, ZF, 0),
        ["bsf of zero sets ZF, keeps the destination"] = new(a => { a.mov(eax, 0x77); a.xor(ebx, ebx); a.bsf(eax, ebx); }, 0x77, 0, 0, 0, ZF, ZF),
        ["bt copies the bit to CF"] = new(a => { a.mov(ebx, 0x20); a.bt(ebx, 5); }, 0, 0x20, 0, 0, CF, CF),
        ["bts with a register offset reaches the next dword"] = new(a =>
        {
            a.mov(ecx, 35);
            a.bts(__dword_ptr[DataPage], ecx);
            a.mov(edx, __dword_ptr[DataPage + 4]);
        }, 0, 0, 35, 0x08, CF, 0),
        ["shld shifts in the source's high bits"] = new(a => { a.mov(eax, 0x1122_3344); a.mov(ebx, 0xAABB_CCDD); a.shld(eax, ebx, 8); }, 0x2233_44AA, 0xAABB_CCDD, 0, 0, CF, CF),
        ["shrd shifts in the source's low bits"] = new(a => { a.mov(eax, 0x1234_5678); a.mov(ebx, 0xF); a.shrd(eax, ebx, 4); }, 0xF123_4567, 0xF, 0, 0, CF, CF),
        ["movsx sign-extends a byte"] = new(a => { a.mov(ebx, 0x80); a.movsx(eax, bl); }, 0xFFFF_FF80, 0x80, 0, 0),
        ["movzx zero-extends a word"] = new(a => { a.mov(ebx, 0xFFFF_8001); a.movzx(eax, bx); }, 0x8001, 0xFFFF_8001, 0, 0),
        ["imul with three operands"] = new(a => { a.mov(ebx, 7); a.imul(eax, ebx, -3); }, 0xFFFF_FFEB, 7, 0, 0, CF | OF, 0),
        ["cdq copies the sign into edx"] = new(a => { a.mov(eax, 0x8000_0000); a.cdq(); }, 0x8000_0000, 0, 0, 0xFFFF_FFFF),
        ["xadd exchanges and adds"] = new(a => { a.mov(eax, 5); a.mov(ebx, 3); a.xadd(eax, ebx); }, 8, 5, 0, 0),
        ["cmpxchg stores when equal"] = new(a => { a.mov(eax, 5); a.mov(ecx, 5); a.mov(ebx, 9); a.cmpxchg(ecx, ebx); }, 5, 9, 9, 0, ZF, ZF),
        ["cmpxchg loads when different"] = new(a => { a.mov(eax, 4); a.mov(ecx, 5); a.mov(ebx, 9); a.cmpxchg(ecx, ebx); }, 5, 9, 5, 0, ZF, 0),
        ["bswap reverses bytes"] = new(a => { a.mov(eax, 0x1122_3344); a.bswap(eax); }, 0x4433_2211, 0, 0, 0),
        ["setc and cmovz follow the flags"] = new(a =>
        {
            a.mov(ebx, 0x99);
            a.xor(eax, eax);        // ZF = 1, CF = 0
            a.cmovz(ecx, ebx);
            a.stc();
            a.setc(dl);
        }, 0, 0x99, 0x99, 1),
        ["loop counts ecx down"] = new(a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 3);
            a.xor(eax, eax);
            a.Label(ref top);
            a.inc(eax);
            a.loop(top);
        }, 3, 0, 0, 0),
        ["jecxz jumps when ecx is zero"] = new(a =>
        {
            var skip = a.CreateLabel();
            a.xor(ecx, ecx);
            a.jecxz(skip);
            a.mov(eax, 1);
            a.Label(ref skip);
            a.mov(ebx, 2);
        }, 0, 2, 0, 0),
        ["div divides edx:eax"] = new(a => { a.mov(edx, 1); a.xor(eax, eax); a.mov(ebx, 2); a.div(ebx); }, 0x8000_0000, 2, 0, 0),
        ["idiv truncates toward zero"] = new(a => { a.mov(eax, -7); a.cdq(); a.mov(ebx, 2); a.idiv(ebx); }, 0xFFFF_FFFD, 2, 0, 0xFFFF_FFFF),
        ["mul sets CF and OF when the high half is used"] = new(a => { a.mov(eax, 0x10000); a.mov(ebx, 0x10000); a.mul(ebx); }, 0, 0x10000, 0, 1, CF | OF, CF | OF),
        ["aam splits al into digits"] = new(a => { a.mov(eax, 43); a.aam(10); }, 0x0403, 0, 0, 0),
        ["cpuid leaf 0 names the vendor"] = new(a => { a.xor(eax, eax); a.cpuid(); }, 2, 0x756E_6547, 0x6C65_746E, 0x4965_6E69),
        ["pushad and popad round-trip"] = new(a =>
        {
            a.mov(eax, 1); a.mov(ebx, 2); a.mov(ecx, 3); a.mov(edx, 4);
            a.pushad();
            a.xor(eax, eax); a.xor(ebx, ebx); a.xor(ecx, ecx); a.xor(edx, edx);
            a.popad();
        }, 1, 2, 3, 4),
        ["enter and leave build and drop a frame"] = new(a =>
        {
            a.mov(ebp, 0x1234);
            a.enter(16, 0);
            a.mov(eax, esp);
            a.mov(ebx, ebp);
            a.leave();
            a.mov(ecx, ebp);
            a.mov(edx, esp);
        }, KernelStackTop - 4 - 16, KernelStackTop - 4, 0x1234, KernelStackTop),
    };

    public static TheoryData<string> CaseNames => new(s_cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Instruction_ProducesSdmResult(string name)
    {
        Case c = s_cases[name];
        using var m = new ProtectedModeMachine();
        int length = m.LoadCode(KernelCode, a =>
        {
            a.xor(eax, eax);
            a.xor(ebx, ebx);
            a.xor(ecx, ecx);
            a.xor(edx, edx);
            c.Code(a);
            a.hlt();
        });

        CpuRunResult result = m.Run();

        Assert.Equal(CpuStopReason.Halted, result.Reason);
        Assert.Equal(KernelCode + (uint)length, m.Eip); // halted at the end: no exception handler ran
        Assert.Equal($"{c.Eax:X8} {c.Ebx:X8} {c.Ecx:X8} {c.Edx:X8}",
            $"{(uint)m.Cpu.State.Rax:X8} {(uint)m.Cpu.State.Rbx:X8} {(uint)m.Cpu.State.Rcx:X8} {(uint)m.Cpu.State.Rdx:X8}");
        Assert.Equal(c.Flags, m.Cpu.State.Eflags & c.FlagMask);
    }
}
