using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>Where an instruction may sit in a translated block.</summary>
internal enum BlockRole : byte
{
    /// <summary>Straight-line: the next instruction follows it.</summary>
    Body,

    /// <summary>
    /// May change EIP (near branches, REP strings that yield) or state the rest of the block must not assume (POPF's
    /// IF and TF, a device's answer to IN/OUT): the block ends after it.
    /// </summary>
    EndsBlock,

    /// <summary>A conditional branch: taken, it leaves the block; not taken, the block goes on (a superblock).</summary>
    SideExit,

    /// <summary>Run by the interpreter only: the block ends before it.</summary>
    LeftToInterpreter,
}

// Which instructions the translator takes. The rule: a translated block may only contain instructions whose effect
// is on registers, flags and guest memory through the segment checks and the TLB, and ends after one that may
// change what the rest of it assumes (POPF, IN/OUT). Everything that changes the mode, CS, paging, the interrupt
// shadow or reads the instruction count (RDTSC) stays in the interpreter, so block boundaries are the only places
// such state changes.
public sealed partial class X86Cpu
{
    private static BlockRole RoleInBlock(ref DecodedInstruction d)
    {
        switch (d.Op)
        {
            case FastOp.Jcc:
                return BlockRole.SideExit;
            case FastOp.JmpRel: case FastOp.CallRel: case FastOp.RetNear:
                return BlockRole.EndsBlock;
            case FastOp.Generic:
                return GenericRoleInBlock(in d.Instruction);
            default:
                return BlockRole.Body; // the fast forms name general-purpose registers and memory only
        }
    }

    private static BlockRole GenericRoleInBlock(in Instruction i)
    {
        for (int op = 0; op < i.OpCount; op++)
        {
            // Segment, control, debug and test registers: mode and shadow changes.
            if (i.GetOpKind(op) == OpKind.Register && !i.GetOpRegister(op).IsGPR() && i.Mnemonic != Mnemonic.Push && !IsX87Register(i.GetOpRegister(op)))
                return BlockRole.LeftToInterpreter;
        }

        switch (i.Mnemonic)
        {
            case Mnemonic.Jmp:
                return i.IsJmpNearIndirect ? BlockRole.EndsBlock : BlockRole.LeftToInterpreter;
            case Mnemonic.Call:
                return i.IsCallNearIndirect ? BlockRole.EndsBlock : BlockRole.LeftToInterpreter;
            case Mnemonic.Ret: // near, with an immediate
            case Mnemonic.Jcxz: case Mnemonic.Jecxz: case Mnemonic.Loop: case Mnemonic.Loope: case Mnemonic.Loopne:
                return BlockRole.EndsBlock;

            case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsd:
            case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsd:
            case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd:
            case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd:
            case Mnemonic.Scasb: case Mnemonic.Scasw: case Mnemonic.Scasd:
                // SSE's MOVSD/CMPSD share the mnemonics; only the string forms have implicit operands.
                if (!i.IsStringInstruction)
                    return BlockRole.LeftToInterpreter;
                return i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix ? BlockRole.EndsBlock : BlockRole.Body;

            case Mnemonic.Popf: case Mnemonic.Popfd:
                // Setting IF raises the events flag (pending interrupts are looked at after the block); setting TF
                // must trap after the next instruction, which the interpreter does once the block has ended.
                return BlockRole.EndsBlock;
            case Mnemonic.In: case Mnemonic.Out:
                // A device's access may change the memory map; the run loop looks at it before the next block.
                return BlockRole.EndsBlock;
            case Mnemonic.Cli:
                return BlockRole.Body; // clearing IF needs nothing; STI starts an interrupt shadow and stays out

            case Mnemonic.Push:
                return BlockRole.Body; // PUSH CS/SS/DS... only reads a selector
            case Mnemonic.Pop:
                return BlockRole.Body; // segment forms were turned away above (POP SS starts an interrupt shadow)

            case Mnemonic.Mov: case Mnemonic.Movzx: case Mnemonic.Movsx: case Mnemonic.Lea:
            case Mnemonic.Xchg: case Mnemonic.Xadd: case Mnemonic.Cmpxchg: case Mnemonic.Cmpxchg8b: case Mnemonic.Bswap:
            case Mnemonic.Cbw: case Mnemonic.Cwde: case Mnemonic.Cwd: case Mnemonic.Cdq: case Mnemonic.Xlatb:
            case Mnemonic.Lahf: case Mnemonic.Sahf:
            case Mnemonic.Lds: case Mnemonic.Les: case Mnemonic.Lfs: case Mnemonic.Lgs:
            case Mnemonic.Cmove: case Mnemonic.Cmovne: case Mnemonic.Cmovb: case Mnemonic.Cmovae:
            case Mnemonic.Cmovbe: case Mnemonic.Cmova: case Mnemonic.Cmovs: case Mnemonic.Cmovns:
            case Mnemonic.Cmovp: case Mnemonic.Cmovnp: case Mnemonic.Cmovl: case Mnemonic.Cmovge:
            case Mnemonic.Cmovle: case Mnemonic.Cmovg: case Mnemonic.Cmovo: case Mnemonic.Cmovno:
            case Mnemonic.Sete: case Mnemonic.Setne: case Mnemonic.Setb: case Mnemonic.Setae:
            case Mnemonic.Setbe: case Mnemonic.Seta: case Mnemonic.Sets: case Mnemonic.Setns:
            case Mnemonic.Setp: case Mnemonic.Setnp: case Mnemonic.Setl: case Mnemonic.Setge:
            case Mnemonic.Setle: case Mnemonic.Setg: case Mnemonic.Seto: case Mnemonic.Setno:
            case Mnemonic.Add: case Mnemonic.Or: case Mnemonic.Adc: case Mnemonic.Sbb: case Mnemonic.And:
            case Mnemonic.Sub: case Mnemonic.Xor: case Mnemonic.Cmp: case Mnemonic.Test:
            case Mnemonic.Inc: case Mnemonic.Dec: case Mnemonic.Neg: case Mnemonic.Not:
            case Mnemonic.Mul: case Mnemonic.Imul: case Mnemonic.Div: case Mnemonic.Idiv:
            case Mnemonic.Daa: case Mnemonic.Das: case Mnemonic.Aaa: case Mnemonic.Aas: case Mnemonic.Aam: case Mnemonic.Aad:
            case Mnemonic.Salc:
            case Mnemonic.Rol: case Mnemonic.Ror: case Mnemonic.Rcl: case Mnemonic.Rcr:
            case Mnemonic.Shl: case Mnemonic.Sal: case Mnemonic.Shr: case Mnemonic.Sar:
            case Mnemonic.Shld: case Mnemonic.Shrd:
            case Mnemonic.Bt: case Mnemonic.Bts: case Mnemonic.Btr: case Mnemonic.Btc:
            case Mnemonic.Bsf: case Mnemonic.Bsr: case Mnemonic.Tzcnt: case Mnemonic.Lzcnt:
            case Mnemonic.Pusha: case Mnemonic.Pushad: case Mnemonic.Popa: case Mnemonic.Popad:
            case Mnemonic.Pushf: case Mnemonic.Pushfd:
            case Mnemonic.Enter: case Mnemonic.Leave:
            case Mnemonic.Clc: case Mnemonic.Stc: case Mnemonic.Cmc: case Mnemonic.Cld: case Mnemonic.Std:
            case Mnemonic.Nop: case Mnemonic.Pause:
            case Mnemonic.Prefetchnta: case Mnemonic.Prefetcht0: case Mnemonic.Prefetcht1: case Mnemonic.Prefetcht2:
            case Mnemonic.Endbr32: case Mnemonic.Endbr64: case Mnemonic.Rdsspd: case Mnemonic.Reservednop:
            case Mnemonic.Wait: case Mnemonic.Fxsave: case Mnemonic.Fxrstor: case Mnemonic.Cpuid:
                return BlockRole.Body;

            default:
                return s_isX87Escape[(int)i.Code] ? BlockRole.Body : BlockRole.LeftToInterpreter;
        }
    }

    private static bool IsX87Register(Register r) => r >= Register.ST0 && r <= Register.ST7;
}
