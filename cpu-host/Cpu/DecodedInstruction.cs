using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// One decoded instruction as the interpreter keeps it: Iced's decoding plus the facts the executor needs
/// that do not depend on where the instruction runs (so the same physical bytes can run at any linear address).
/// </summary>
internal struct DecodedInstruction
{
    /// <summary>Cache tag: (physical address &lt;&lt; 2) | code-size index; <see cref="DecodedInstructionCache.EmptyTag"/> when unused.</summary>
    public ulong Tag;
    public Instruction Instruction;
    /// <summary>Near branch target minus the next instruction's offset (relative branches only).</summary>
    public long BranchDisplacement;
    /// <summary>Length in bytes.</summary>
    public byte Length;
    /// <summary>Operand size in bytes (1, 2, 4 or 8) of the instruction's main operation.</summary>
    public byte OperandSize;
    /// <summary>Address size in bytes (2, 4 or 8) of memory operands, string instructions and LOOP/JCXZ.</summary>
    public byte AddressSize;
}
