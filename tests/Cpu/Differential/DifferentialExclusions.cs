using Iced.Intel;
using SplitEmu.CpuHost.Cpu;

namespace SplitEmu.Tests.Cpu.Differential;

/// <summary>
/// Where Unicorn 2.0.1 (QEMU 5 TCG) is known to be wrong, checked against the Intel SDM. Each entry names the case
/// and says what is not compared; <c>docs/differential-exclusions.md</c> gives the reasoning. An excluded
/// instruction still runs on both CPUs; SplitEmu's result becomes the next state.
/// </summary>
internal static class DifferentialExclusions
{
    /// <summary>
    /// One known Unicorn error: a name for the report, the EFLAGS bits and general registers (bit i: register i in
    /// ModRM order) not compared, or nothing compared at all.
    /// </summary>
    public sealed record Exclusion(string Name, uint IgnoredFlags, bool IgnoreEverything, int IgnoredRegisters = 0);

    /// <summary>
    /// LOCK NEG m: SF and PF come out of Unicorn's locked path computed from the wrong value (SDM NEG: SF, ZF, PF
    /// follow the result, CF = source != 0); the stored result and the other flags are right.
    /// </summary>
    public static readonly Exclusion LockedNegFlags = new("lock neg: SF/PF", EflagsBits.SF | EflagsBits.PF | EflagsBits.ZF, false);

    /// <summary>
    /// RET imm16 with imm16 >= 8000h: Unicorn sign-extends the immediate and so releases a negative number of bytes.
    /// SDM RET: imm16 is the (unsigned) number of bytes to release, ESP = ESP + imm16. ESP is not compared.
    /// </summary>
    public static readonly Exclusion ReturnImmediateSignExtended = new("ret imm16 >= 8000h: ESP", 0, false, IgnoredRegisters: 1 << 4);

    /// <summary>The exclusion that applies to this instruction with these registers, or null.</summary>
    public static Exclusion? Find(in Instruction instruction, ReadOnlySpan<uint> gprBefore, uint eflagsBefore)
    {
        _ = gprBefore;
        _ = eflagsBefore;
        if (instruction.Mnemonic == Mnemonic.Neg && instruction.HasLockPrefix)
            return LockedNegFlags;
        if (instruction.Mnemonic == Mnemonic.Ret && instruction.OpCount == 1 && instruction.Immediate16 >= 0x8000)
            return ReturnImmediateSignExtended;
        return null;
    }
}
