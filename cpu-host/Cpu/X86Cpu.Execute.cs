using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// The dispatcher: one case per mnemonic family, each delegating to a handler in the topic files.
public sealed partial class X86Cpu
{
    private void ExecuteGeneric(ref DecodedInstruction d)
    {
        int size = d.OperandSize;
        switch (d.Instruction.Mnemonic)
        {
            // ---- data movement ----
            case Mnemonic.Mov: ExecuteMov(ref d, size); break;
            case Mnemonic.Movzx: WriteOperand0Register(ref d, ReadOperand(ref d, 1, d.Instruction.Op1Kind == OpKind.Register ? d.Instruction.Op1Register.GetSize() : d.Instruction.MemorySize.GetSize())); break;
            case Mnemonic.Movsx: ExecuteMovsx(ref d); break;
            case Mnemonic.Lea: WriteRegister(d.Instruction.Op0Register, EffectiveAddress(ref d)); break;
            case Mnemonic.Xchg: ExecuteXchg(ref d, size); break;
            case Mnemonic.Xadd: ExecuteXadd(ref d, size); break;
            case Mnemonic.Cmpxchg: ExecuteCmpxchg(ref d, size); break;
            case Mnemonic.Cmpxchg8b: ExecuteCmpxchg8b(ref d); break;
            case Mnemonic.Bswap: ExecuteBswap(ref d, size); break;
            case Mnemonic.Cbw: WriteGpr(Gpr.Rax, 2, (ulong)(long)(sbyte)_state.Gpr[Gpr.Rax]); break;
            case Mnemonic.Cwde: WriteGpr(Gpr.Rax, 4, (ulong)(long)(short)_state.Gpr[Gpr.Rax]); break;
            case Mnemonic.Cwd: WriteGpr(Gpr.Rdx, 2, (short)_state.Gpr[Gpr.Rax] < 0 ? 0xFFFFUL : 0); break;
            case Mnemonic.Cdq: WriteGpr(Gpr.Rdx, 4, (int)_state.Gpr[Gpr.Rax] < 0 ? 0xFFFF_FFFFUL : 0); break;
            case Mnemonic.Xlatb: WriteGpr(Gpr.Rax, 1, ReadSegment(MemorySegment(ref d), EffectiveAddress(ref d), 1)); break;
            case Mnemonic.Lahf: WriteRegister(Register.AH, (GetEflags() & 0xD5) | 2); break;
            case Mnemonic.Sahf: SetEflags((uint)(_state.Gpr[Gpr.Rax] >> 8), EflagsBits.CF | EflagsBits.PF | EflagsBits.AF | EflagsBits.ZF | EflagsBits.SF); break;
            case Mnemonic.Lds: ExecuteLoadFarPointer(ref d, SegmentIndex.DS); break;
            case Mnemonic.Les: ExecuteLoadFarPointer(ref d, SegmentIndex.ES); break;
            case Mnemonic.Lfs: ExecuteLoadFarPointer(ref d, SegmentIndex.FS); break;
            case Mnemonic.Lgs: ExecuteLoadFarPointer(ref d, SegmentIndex.GS); break;
            case Mnemonic.Lss: ExecuteLoadFarPointer(ref d, SegmentIndex.SS); break;
            case Mnemonic.Cmove: case Mnemonic.Cmovne: case Mnemonic.Cmovb: case Mnemonic.Cmovae:
            case Mnemonic.Cmovbe: case Mnemonic.Cmova: case Mnemonic.Cmovs: case Mnemonic.Cmovns:
            case Mnemonic.Cmovp: case Mnemonic.Cmovnp: case Mnemonic.Cmovl: case Mnemonic.Cmovge:
            case Mnemonic.Cmovle: case Mnemonic.Cmovg: case Mnemonic.Cmovo: case Mnemonic.Cmovno:
                ExecuteCmov(ref d, size); break;
            case Mnemonic.Sete: case Mnemonic.Setne: case Mnemonic.Setb: case Mnemonic.Setae:
            case Mnemonic.Setbe: case Mnemonic.Seta: case Mnemonic.Sets: case Mnemonic.Setns:
            case Mnemonic.Setp: case Mnemonic.Setnp: case Mnemonic.Setl: case Mnemonic.Setge:
            case Mnemonic.Setle: case Mnemonic.Setg: case Mnemonic.Seto: case Mnemonic.Setno:
                WriteOperand0(ref d, 1, Condition(ConditionCodeOf(ref d)) ? 1UL : 0UL); break;

            // ---- arithmetic and logic ----
            case Mnemonic.Add: ExecuteAlu(ref d, size, AluOp.Add); break;
            case Mnemonic.Or: ExecuteAlu(ref d, size, AluOp.Or); break;
            case Mnemonic.Adc: ExecuteAlu(ref d, size, AluOp.Adc); break;
            case Mnemonic.Sbb: ExecuteAlu(ref d, size, AluOp.Sbb); break;
            case Mnemonic.And: ExecuteAlu(ref d, size, AluOp.And); break;
            case Mnemonic.Sub: ExecuteAlu(ref d, size, AluOp.Sub); break;
            case Mnemonic.Xor: ExecuteAlu(ref d, size, AluOp.Xor); break;
            case Mnemonic.Cmp: ExecuteCompare(ref d, size); break;
            case Mnemonic.Test: ExecuteTest(ref d, size); break;
            case Mnemonic.Inc: ExecuteIncDec(ref d, size, increment: true); break;
            case Mnemonic.Dec: ExecuteIncDec(ref d, size, increment: false); break;
            case Mnemonic.Neg: ExecuteNeg(ref d, size); break;
            case Mnemonic.Not: ExecuteNot(ref d, size); break;
            case Mnemonic.Mul: ExecuteMul(ref d, size); break;
            case Mnemonic.Imul: ExecuteImul(ref d, size); break;
            case Mnemonic.Div: ExecuteDiv(ref d, size); break;
            case Mnemonic.Idiv: ExecuteIdiv(ref d, size); break;
            case Mnemonic.Daa: ExecuteDaa(); break;
            case Mnemonic.Das: ExecuteDas(); break;
            case Mnemonic.Aaa: ExecuteAaa(); break;
            case Mnemonic.Aas: ExecuteAas(); break;
            case Mnemonic.Aam: ExecuteAam((byte)d.Instruction.Immediate8); break;
            case Mnemonic.Aad: ExecuteAad((byte)d.Instruction.Immediate8); break;
            case Mnemonic.Salc: WriteGpr(Gpr.Rax, 1, GetCF() ? 0xFFUL : 0); break;

            // ---- shifts, rotates, bits ----
            case Mnemonic.Rol: case Mnemonic.Ror: case Mnemonic.Rcl: case Mnemonic.Rcr:
            case Mnemonic.Shl: case Mnemonic.Sal: case Mnemonic.Shr: case Mnemonic.Sar:
                ExecuteShift(ref d, size); break;
            case Mnemonic.Shld: ExecuteDoubleShift(ref d, size, left: true); break;
            case Mnemonic.Shrd: ExecuteDoubleShift(ref d, size, left: false); break;
            case Mnemonic.Bt: case Mnemonic.Bts: case Mnemonic.Btr: case Mnemonic.Btc:
                ExecuteBitTest(ref d, size); break;
            case Mnemonic.Bsf: ExecuteBitScan(ref d, size, forward: true); break;
            // No BMI1/LZCNT is claimed: as on a P6, the F3 prefix of TZCNT and LZCNT is ignored and they are BSF and BSR.
            case Mnemonic.Tzcnt: ExecuteBitScan(ref d, size, forward: true); break;
            case Mnemonic.Lzcnt: ExecuteBitScan(ref d, size, forward: false); break;
            case Mnemonic.Bsr: ExecuteBitScan(ref d, size, forward: false); break;

            // ---- stack ----
            case Mnemonic.Push: ExecutePush(ref d); break;
            case Mnemonic.Pop: ExecutePop(ref d); break;
            case Mnemonic.Pusha: case Mnemonic.Pushad: ExecutePusha(d.Instruction.Mnemonic == Mnemonic.Pushad ? 4 : 2); break;
            case Mnemonic.Popa: case Mnemonic.Popad: ExecutePopa(d.Instruction.Mnemonic == Mnemonic.Popad ? 4 : 2); break;
            case Mnemonic.Pushf: case Mnemonic.Pushfd: ExecutePushf(d.Instruction.Mnemonic == Mnemonic.Pushfd ? 4 : 2); break;
            case Mnemonic.Popf: case Mnemonic.Popfd: ExecutePopf(d.Instruction.Mnemonic == Mnemonic.Popfd ? 4 : 2); break;
            case Mnemonic.Enter: ExecuteEnter(ref d); break;
            case Mnemonic.Leave: ExecuteLeave(ref d); break;

            // ---- control transfer ----
            case Mnemonic.Jmp:
                if (IsFarTransfer(in d.Instruction))
                    SerializeInstructionFetch();
                ExecuteJmp(ref d);
                break;
            case Mnemonic.Je: case Mnemonic.Jne: case Mnemonic.Jb: case Mnemonic.Jae:
            case Mnemonic.Jbe: case Mnemonic.Ja: case Mnemonic.Js: case Mnemonic.Jns:
            case Mnemonic.Jp: case Mnemonic.Jnp: case Mnemonic.Jl: case Mnemonic.Jge:
            case Mnemonic.Jle: case Mnemonic.Jg: case Mnemonic.Jo: case Mnemonic.Jno:
                if (Condition(ConditionCodeOf(ref d)))
                    JumpRelative(ref d);
                break;
            case Mnemonic.Jcxz: case Mnemonic.Jecxz: case Mnemonic.Jrcxz:
                if (ReadGpr(Gpr.Rcx, d.AddressSize) == 0)
                    JumpRelative(ref d);
                break;
            case Mnemonic.Loop: case Mnemonic.Loope: case Mnemonic.Loopne: ExecuteLoop(ref d); break;
            case Mnemonic.Call:
                if (IsFarTransfer(in d.Instruction))
                    SerializeInstructionFetch();
                ExecuteCall(ref d);
                break;
            case Mnemonic.Ret: ExecuteRetNear(ref d); break;
            case Mnemonic.Retf: SerializeInstructionFetch(); ExecuteRetFar(ref d); break;
            case Mnemonic.Iret: case Mnemonic.Iretd: SerializeInstructionFetch(); ExecuteIret(d.Instruction.Mnemonic == Mnemonic.Iretd ? 4 : 2); break;
            case Mnemonic.Int: ExecuteSoftwareInterrupt((byte)d.Instruction.Immediate8, SoftwareInterruptKind.IntN); break;
            case Mnemonic.Int3: ExecuteSoftwareInterrupt(ExceptionVector.Breakpoint, SoftwareInterruptKind.Int3); break;
            case Mnemonic.Into:
                if (GetOF())
                    ExecuteSoftwareInterrupt(ExceptionVector.Overflow, SoftwareInterruptKind.Into);
                break;
            case Mnemonic.Int1: ExecuteSoftwareInterrupt(ExceptionVector.Debug, SoftwareInterruptKind.Int1); break;
            case Mnemonic.Bound: ExecuteBound(ref d, size); break;

            // ---- strings ----
            case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsd: case Mnemonic.Movsq:
            case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsd: case Mnemonic.Cmpsq:
            case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd: case Mnemonic.Stosq:
            case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd: case Mnemonic.Lodsq:
            case Mnemonic.Scasb: case Mnemonic.Scasw: case Mnemonic.Scasd: case Mnemonic.Scasq:
            case Mnemonic.Insb: case Mnemonic.Insw: case Mnemonic.Insd:
            case Mnemonic.Outsb: case Mnemonic.Outsw: case Mnemonic.Outsd:
                ExecuteString(ref d, size); break;

            // ---- flags ----
            case Mnemonic.Clc: SetFlag(EflagsBits.CF, false); break;
            case Mnemonic.Stc: SetFlag(EflagsBits.CF, true); break;
            case Mnemonic.Cmc: SetFlag(EflagsBits.CF, !GetCF()); break;
            case Mnemonic.Cld: _state.Eflags &= ~EflagsBits.DF; break;
            case Mnemonic.Std: _state.Eflags |= EflagsBits.DF; break;
            case Mnemonic.Cli: ExecuteCli(); break;
            case Mnemonic.Sti: ExecuteSti(); break;

            // ---- I/O ----
            case Mnemonic.In: ExecuteIn(ref d, size); break;
            case Mnemonic.Out: ExecuteOut(ref d); break;

            // ---- processor control and system ----
            case Mnemonic.Nop: break;
            case Mnemonic.Pause: SpinWaitHint(); break;
            // The 0F 18-1F hint space: prefetches, CET's ENDBR/RDSSP and reserved NOPs are NOPs on a part without
            // those features, and their memory operand is never accessed.
            case Mnemonic.Prefetchnta: case Mnemonic.Prefetcht0: case Mnemonic.Prefetcht1: case Mnemonic.Prefetcht2:
            case Mnemonic.Endbr32: case Mnemonic.Endbr64: case Mnemonic.Rdsspd: case Mnemonic.Reservednop:
                break;
            case Mnemonic.Wait: ExecuteWait(); break;
            case Mnemonic.Fxsave: case Mnemonic.Fxrstor: ExecuteFxsaveFxrstor(ref d); break;
            case Mnemonic.Hlt: ExecuteHlt(); break;
            case Mnemonic.Cpuid: SerializeInstructionFetch(); ExecuteCpuid(); break;
            case Mnemonic.Rdtsc: ExecuteRdtsc(); break;
            case Mnemonic.Rdmsr: ExecuteRdmsr(); break;
            case Mnemonic.Wrmsr: SerializeInstructionFetch(); ExecuteWrmsr(); break;
            case Mnemonic.Rdpmc: ExecuteRdpmc(); break;
            case Mnemonic.Sysenter: ExecuteSysenter(); break;
            case Mnemonic.Sysexit: ExecuteSysexit(); break;
            case Mnemonic.Lgdt: case Mnemonic.Lidt: SerializeInstructionFetch(); ExecuteLoadDescriptorTable(ref d); break;
            case Mnemonic.Sgdt: case Mnemonic.Sidt: ExecuteStoreDescriptorTable(ref d); break;
            case Mnemonic.Lldt: SerializeInstructionFetch(); ExecuteLldt(ref d); break;
            case Mnemonic.Ltr: SerializeInstructionFetch(); ExecuteLtr(ref d); break;
            case Mnemonic.Sldt: ExecuteStoreSystemSelector(ref d, _state.Ldtr.Selector); break;
            case Mnemonic.Str: ExecuteStoreSystemSelector(ref d, _state.Tr.Selector); break;
            case Mnemonic.Smsw: ExecuteStoreSystemSelector(ref d, (ushort)_state.Cr0); break;
            case Mnemonic.Lmsw: ExecuteLmsw(ref d); break;
            case Mnemonic.Clts: ExecuteClts(); break;
            case Mnemonic.Invlpg: SerializeInstructionFetch(); ExecuteInvlpg(ref d); break;
            case Mnemonic.Invd: case Mnemonic.Wbinvd: SerializeInstructionFetch(); ExecuteCacheControl(); break;
            case Mnemonic.Arpl: ExecuteArpl(ref d); break;
            case Mnemonic.Lar: ExecuteLarLsl(ref d, size, loadLimit: false); break;
            case Mnemonic.Lsl: ExecuteLarLsl(ref d, size, loadLimit: true); break;
            case Mnemonic.Verr: ExecuteVerify(ref d, write: false); break;
            case Mnemonic.Verw: ExecuteVerify(ref d, write: true); break;
            case Mnemonic.Ud0: case Mnemonic.Ud1: case Mnemonic.Ud2: RaiseFault(ExceptionVector.InvalidOpcode); break;

            default:
                if (s_isX87Escape[(int)d.Instruction.Code])
                    ExecuteX87Escape(ref d);
                else
                    RaiseFault(ExceptionVector.InvalidOpcode);
                break;
        }
    }

    /// <summary>A far JMP or CALL (direct or through memory): loads CS, which this CPU treats as serializing.</summary>
    private static bool IsFarTransfer(in Instruction i)
        => i.Op0Kind is OpKind.FarBranch16 or OpKind.FarBranch32 || i.IsJmpFarIndirect || i.IsCallFarIndirect;

    /// <summary>The condition nibble of a Jcc/SETcc/CMOVcc.</summary>
    private static int ConditionCodeOf(ref DecodedInstruction d) => ConditionCodeOf(in d.Instruction);

    private static int ConditionCodeOf(in Instruction i) => i.ConditionCode switch
    {
        ConditionCode.o => 0, ConditionCode.no => 1, ConditionCode.b => 2, ConditionCode.ae => 3,
        ConditionCode.e => 4, ConditionCode.ne => 5, ConditionCode.be => 6, ConditionCode.a => 7,
        ConditionCode.s => 8, ConditionCode.ns => 9, ConditionCode.p => 10, ConditionCode.np => 11,
        ConditionCode.l => 12, ConditionCode.ge => 13, ConditionCode.le => 14, _ => 15,
    };
}
