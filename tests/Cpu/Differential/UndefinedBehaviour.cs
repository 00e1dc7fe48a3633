using Iced.Intel;
using SplitEmu.CpuHost.Cpu;

namespace SplitEmu.Tests.Cpu.Differential;

/// <summary>
/// What the Intel SDM leaves undefined for one instruction with its actual operands: the flags Iced lists as
/// undefined (<see cref="Instruction.RflagsUndefined"/>), plus the cases that depend on a count or a source value,
/// which a static table cannot know. Not a list of Unicorn bugs (those are in <see cref="DifferentialExclusions"/>).
/// </summary>
internal static class UndefinedBehaviour
{
    /// <summary>EFLAGS bits not to compare, or the whole result undefined (only faults are compared).</summary>
    public readonly record struct Mask(uint Flags, bool ResultUndefined);

    public static Mask For(in Instruction instruction, ReadOnlySpan<uint> gprBefore)
    {
        uint flags = FromIced(instruction.RflagsUndefined);
        switch (instruction.Mnemonic)
        {
            case Mnemonic.Shl:
            case Mnemonic.Sal:
            case Mnemonic.Shr:
            case Mnemonic.Sar:
            case Mnemonic.Rol:
            case Mnemonic.Ror:
            case Mnemonic.Rcl:
            case Mnemonic.Rcr:
            {
                // SDM SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR: OF is defined only for 1-bit shifts and rotates;
                // for SHL and SHR, CF is undefined when the count is at least the operand width.
                uint count = ShiftCount(instruction, gprBefore, operand: 1) & 0x1F;
                if (count != 1)
                    flags |= EflagsBits.OF;
                bool logical = instruction.Mnemonic is Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr;
                if (logical && count >= OperandBits(instruction))
                    flags |= EflagsBits.CF;
                break;
            }
            case Mnemonic.Shld:
            case Mnemonic.Shrd:
            {
                // SDM SHLD/SHRD: for a count above the operand size the result and all flags are undefined;
                // OF is defined only for a count of 1.
                uint count = ShiftCount(instruction, gprBefore, operand: 2) & 0x1F;
                if (count > OperandBits(instruction))
                    return new Mask(EflagsBits.Arithmetic, ResultUndefined: true);
                if (count != 1)
                    flags |= EflagsBits.OF;
                break;
            }
            // BSF/BSR with a zero source: the SDM leaves the destination undefined, but Intel and AMD parts leave it
            // unchanged, and so do SplitEmu and Unicorn, so it stays compared.
        }
        return new Mask(flags, ResultUndefined: false);
    }

    private static uint ShiftCount(in Instruction instruction, ReadOnlySpan<uint> gprBefore, int operand)
    {
        if (instruction.OpCount <= operand)
            return 1;
        return instruction.GetOpKind(operand) switch
        {
            OpKind.Register when instruction.GetOpRegister(operand) == Register.CL => gprBefore[1] & 0xFF,
            OpKind.Immediate8 => instruction.Immediate8,
            _ => 1,
        };
    }

    private static int OperandBits(in Instruction instruction)
        => instruction.Op0Kind == OpKind.Register
            ? instruction.Op0Register.GetSize() * 8
            : instruction.MemorySize.GetSize() * 8;

    private static uint FromIced(RflagsBits bits)
    {
        uint result = 0;
        if ((bits & RflagsBits.OF) != 0) result |= EflagsBits.OF;
        if ((bits & RflagsBits.SF) != 0) result |= EflagsBits.SF;
        if ((bits & RflagsBits.ZF) != 0) result |= EflagsBits.ZF;
        if ((bits & RflagsBits.AF) != 0) result |= EflagsBits.AF;
        if ((bits & RflagsBits.CF) != 0) result |= EflagsBits.CF;
        if ((bits & RflagsBits.PF) != 0) result |= EflagsBits.PF;
        if ((bits & RflagsBits.DF) != 0) result |= EflagsBits.DF;
        if ((bits & RflagsBits.IF) != 0) result |= EflagsBits.IF;
        if ((bits & RflagsBits.AC) != 0) result |= EflagsBits.AC;
        return result;
    }
}
