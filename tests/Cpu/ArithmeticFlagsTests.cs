using Iced.Intel;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.Tests.Cpu.Infrastructure;
using static Iced.Intel.AssemblerRegisters;
using static SplitEmu.Tests.Cpu.Infrastructure.ProtectedModeMachine;

namespace SplitEmu.Tests.Cpu;

/// <summary>Results and flags of 32-bit ALU operations, read back with PUSHFD (so lazy flags must be exact).</summary>
public sealed class ArithmeticFlagsTests
{
    private const uint CF = EflagsBits.CF, PF = EflagsBits.PF, AF = EflagsBits.AF, ZF = EflagsBits.ZF, SF = EflagsBits.SF, OF = EflagsBits.OF;
    private const uint All = CF | PF | AF | ZF | SF | OF;
    /// <summary>AF is undefined after logical operations.</summary>
    private const uint AllButAf = All & ~AF;

    public static TheoryData<string, uint, uint, uint, uint, uint> Cases => new()
    {
        // operation, eax, ebx, expected eax, expected flags, flags compared
        { "add", 0x7FFF_FFFF, 1, 0x8000_0000, SF | OF | AF | PF, All },
        { "add", 0xFFFF_FFFF, 1, 0, CF | ZF | AF | PF, All },
        { "sub", 0, 1, 0xFFFF_FFFF, CF | SF | AF | PF, All },
        { "sub", 0x8000_0000, 1, 0x7FFF_FFFF, OF | AF | PF, All },
        { "cmp", 5, 5, 5, ZF | PF, All },
        { "adc", 0xFFFF_FFFF, 0, 0, CF | ZF | AF | PF, All },   // CF set beforehand: FFFFFFFF + 0 + 1
        { "sbb", 0, 0, 0xFFFF_FFFF, CF | SF | AF | PF, All },   // CF set beforehand: 0 - 0 - 1
        { "and", 0xF0F0_F0F0, 0x0F0F_0F0F, 0, ZF | PF, AllButAf },
        { "xor", 0x8000_0001, 0, 0x8000_0001, SF, AllButAf },
        { "neg", 0x8000_0000, 0, 0x8000_0000, CF | SF | OF | PF, All },
        { "inc", 0x7FFF_FFFF, 0, 0x8000_0000, CF | SF | OF | AF | PF, All }, // INC keeps the CF set beforehand
        { "imul", 0x4000_0000, 4, 0, CF | OF, CF | OF },
        { "shl", 0x8000_0001, 1, 0x0000_0002, CF | OF, CF | OF | ZF | SF | PF },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Operation_ProducesResultAndFlags(string operation, uint eaxValue, uint ebxValue, uint expectedEax, uint expectedFlags, uint comparedFlags)
    {
        using var m = new ProtectedModeMachine();
        m.LoadCode(KernelCode, a =>
        {
            a.mov(eax, eaxValue);
            a.mov(ebx, ebxValue);
            a.stc();
            Emit(a, operation);
            a.pushfd();
            a.pop(ecx);
            a.hlt();
        });

        m.Run();

        Assert.Equal(expectedEax, (uint)m.Cpu.State.Rax);
        Assert.Equal($"{expectedFlags & comparedFlags:X3}", $"{(uint)m.Cpu.State.Rcx & comparedFlags:X3}");
    }

    private static void Emit(Assembler a, string operation)
    {
        switch (operation)
        {
            case "add": a.add(eax, ebx); break;
            case "sub": a.sub(eax, ebx); break;
            case "cmp": a.cmp(eax, ebx); break;
            case "adc": a.adc(eax, ebx); break;
            case "sbb": a.sbb(eax, ebx); break;
            case "and": a.and(eax, ebx); break;
            case "xor": a.xor(eax, ebx); break;
            case "neg": a.neg(eax); break;
            case "inc": a.inc(eax); break;
            case "imul": a.imul(eax, ebx); break;
            case "shl": a.shl(eax, 1); break;
            default: throw new ArgumentOutOfRangeException(nameof(operation), operation, null);
        }
    }
}
