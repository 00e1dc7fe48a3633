using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// One decoded instruction as the interpreter keeps it: Iced's decoding plus the facts the executor needs
/// that do not depend on where the instruction runs (so the same physical bytes can run at any linear address).
/// Common forms also carry pre-extracted operands so their handlers never go back to Iced's accessors.
/// </summary>
internal struct DecodedInstruction
{
    /// <summary>Cache tag: (physical address &lt;&lt; 2) | code-size index; <see cref="DecodedInstructionCache.EmptyTag"/> when unused.</summary>
    public ulong Tag;
    public Instruction Instruction;
    /// <summary>Near branch target minus the next instruction's offset (relative branches only).</summary>
    public long BranchDisplacement;
    /// <summary>The immediate operand, sign-extended as the encoding says and masked to the operand size.</summary>
    public ulong Immediate;
    /// <summary>Memory displacement (already as wide as the address size).</summary>
    public ulong Displacement;
    /// <summary>Mask applied to effective addresses (0xFFFF, 0xFFFFFFFF or all ones).</summary>
    public ulong AddressMask;
    /// <summary>Which specialised handler runs this instruction (<see cref="FastOp.Generic"/>: the mnemonic switch).</summary>
    public FastOp Op;
    /// <summary>Operand shapes for the specialised handlers.</summary>
    public OperandForm Form;
    /// <summary>Sub-operation: the <see cref="AluOp"/>, the condition code, or increment (1) / decrement (0).</summary>
    public byte SubOp;
    /// <summary>Length in bytes.</summary>
    public byte Length;
    /// <summary>Operand size in bytes (1, 2, 4 or 8) of the instruction's main operation.</summary>
    public byte OperandSize;
    /// <summary>Address size in bytes (2, 4 or 8) of memory operands, string instructions and LOOP/JCXZ.</summary>
    public byte AddressSize;
    /// <summary>GPR slot and width of the first register operand.</summary>
    public byte Reg0, Reg0Width;
    /// <summary>GPR slot and width of the second register operand.</summary>
    public byte Reg1, Reg1Width;
    /// <summary>Base and index GPR slots of the memory operand (<see cref="NoRegister"/> when absent) and the index shift.</summary>
    public byte Base, Index, ScaleShift;
    /// <summary>Segment register index of the memory operand.</summary>
    public byte Segment;

    public const byte NoRegister = 0xFF;
}

/// <summary>Specialised handlers for the instructions that dominate real code; everything else is Generic.</summary>
internal enum FastOp : byte
{
    Generic,
    Alu,
    Cmp,
    Test,
    Mov,
    Movzx,
    Movsx,
    Lea,
    IncDec,
    PushReg,
    PopReg,
    Jcc,
    JmpRel,
    CallRel,
    RetNear,
    Shift,
    Nop,
    /// <summary>A LOCK'ed read-modify-write or XCHG with memory: atomic across the CPUs of the domain.</summary>
    Locked,
}

/// <summary>Operand shapes of two-operand instructions (destination first).</summary>
internal enum OperandForm : byte
{
    Other,
    RegReg,
    RegImm,
    RegMem,
    MemReg,
    MemImm,
    Reg,
    Mem,
}
