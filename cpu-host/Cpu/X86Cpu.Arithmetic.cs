using System.Numerics;
using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>The two-operand ALU operations that share one handler.</summary>
internal enum AluOp : byte { Add, Or, Adc, Sbb, And, Sub, Xor }

// Data movement, integer arithmetic, logic, multiply/divide and BCD adjustments.
public sealed partial class X86Cpu
{
    private void ExecuteMov(ref DecodedInstruction d, int size)
    {
        ref Instruction i = ref d.Instruction;
        if (i.Op0Kind == OpKind.Register)
        {
            Register dst = i.Op0Register;
            if (dst.IsSegmentRegister())
            {
                ulong selector = ReadOperand(ref d, 1, 2);
                if (!Faulted)
                    LoadSegmentRegister(dst - Register.ES, (ushort)selector);
                return;
            }
            if (dst.IsCR() || dst.IsDR() || dst.IsTR())
            {
                ExecuteMovToControl(dst, ReadRegister(i.Op1Register));
                return;
            }
            if (i.Op1Kind == OpKind.Register)
            {
                Register src = i.Op1Register;
                if (src.IsCR() || src.IsDR() || src.IsTR())
                {
                    ExecuteMovFromControl(dst, src);
                    return;
                }
                if (src.IsSegmentRegister())
                {
                    // 32-bit destinations receive the selector zero-extended.
                    WriteRegister(dst, _state.Segments[src - Register.ES].Selector);
                    return;
                }
            }
            ulong value = ReadOperand(ref d, 1, size);
            if (!Faulted)
                WriteRegister(dst, value);
            return;
        }

        // Memory destination.
        if (i.Op1Kind == OpKind.Register && i.Op1Register.IsSegmentRegister())
        {
            WriteSegment(MemorySegment(ref d), EffectiveAddress(ref d), 2, _state.Segments[i.Op1Register - Register.ES].Selector);
            return;
        }
        WriteSegment(MemorySegment(ref d), EffectiveAddress(ref d), size, ReadOperand(ref d, 1, size));
    }

    /// <summary>Writes a register destination after a source read that may have faulted.</summary>
    private void WriteOperand0Register(ref DecodedInstruction d, ulong value)
    {
        if (!Faulted)
            WriteRegister(d.Instruction.Op0Register, value);
    }

    private void ExecuteMovsx(ref DecodedInstruction d)
    {
        int srcSize = d.Instruction.Op1Kind == OpKind.Register ? d.Instruction.Op1Register.GetSize() : d.Instruction.MemorySize.GetSize();
        ulong v = ReadOperand(ref d, 1, srcSize);
        WriteOperand0Register(ref d, srcSize == 1 ? (ulong)(long)(sbyte)v : (ulong)(long)(short)v);
    }

    private void ExecuteXchg(ref DecodedInstruction d, int size)
    {
        // XCHG with memory: the memory operand is op0 or op1 in Iced; normalise so op1 is a register.
        ref Instruction i = ref d.Instruction;
        if (i.Op0Kind == OpKind.Register && i.Op1Kind == OpKind.Register)
        {
            ulong a = ReadRegister(i.Op0Register), b = ReadRegister(i.Op1Register);
            WriteRegister(i.Op0Register, b);
            WriteRegister(i.Op1Register, a);
            return;
        }
        Register reg = i.Op0Kind == OpKind.Register ? i.Op0Register : i.Op1Register;
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        ulong memory = ReadSegmentForWrite(seg, ea, size);
        if (Faulted)
            return;
        WriteSegment(seg, ea, size, ReadRegister(reg));
        WriteRegister(reg, memory);
    }

    private void ExecuteXadd(ref DecodedInstruction d, int size)
    {
        ulong src = ReadRegister(d.Instruction.Op1Register);
        ulong dst = ReadDestination(ref d, size, out ulong ea);
        if (Faulted)
            return;
        ulong sum = (dst + src) & SizeMask(size);
        WriteRegister(d.Instruction.Op1Register, dst);
        WriteDestination(ref d, size, sum, ea);
        SetLazyFlags(LazyFlagsOp.Add, size, sum, dst, src);
    }

    private void ExecuteCmpxchg(ref DecodedInstruction d, int size)
    {
        ulong dst = ReadDestination(ref d, size, out ulong ea);
        if (Faulted)
            return;
        ulong accumulator = ReadGpr(Gpr.Rax, size);
        SetLazyFlags(LazyFlagsOp.Sub, size, (accumulator - dst) & SizeMask(size), accumulator, dst);
        if (accumulator == dst)
        {
            WriteDestination(ref d, size, ReadRegister(d.Instruction.Op1Register), ea);
        }
        else
        {
            WriteDestination(ref d, size, dst, ea); // the destination is always written back
            WriteGpr(Gpr.Rax, size, dst);
        }
    }

    private void ExecuteCmpxchg8b(ref DecodedInstruction d)
    {
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        ulong value = ReadSegmentForWrite(seg, ea, 8);
        if (Faulted)
            return;
        ulong expected = ((ulong)(uint)_state.Gpr[Gpr.Rdx] << 32) | (uint)_state.Gpr[Gpr.Rax];
        MaterializeFlags();
        if (value == expected)
        {
            WriteSegment(seg, ea, 8, ((ulong)(uint)_state.Gpr[Gpr.Rcx] << 32) | (uint)_state.Gpr[Gpr.Rbx]);
            _state.Eflags |= EflagsBits.ZF;
        }
        else
        {
            WriteSegment(seg, ea, 8, value);
            WriteGpr(Gpr.Rax, 4, (uint)value);
            WriteGpr(Gpr.Rdx, 4, value >> 32);
            _state.Eflags &= ~EflagsBits.ZF;
        }
    }

    private void ExecuteBswap(ref DecodedInstruction d, int size)
    {
        Register r = d.Instruction.Op0Register;
        ulong v = ReadRegister(r);
        WriteRegister(r, size == 8 ? BinaryPrimitivesReverse(v) : size == 4 ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)v) : 0);
    }

    private static ulong BinaryPrimitivesReverse(ulong v) => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v);

    private void ExecuteCmov(ref DecodedInstruction d, int size)
    {
        // The source is read (and may fault) whether or not the move happens.
        ulong v = ReadOperand(ref d, 1, size);
        if (Faulted)
            return;
        if (Condition(ConditionCodeOf(ref d)))
            WriteRegister(d.Instruction.Op0Register, v);
        else if (size == 4)
            WriteRegister(d.Instruction.Op0Register, ReadRegister(d.Instruction.Op0Register)); // 32-bit CMOV zero-extends in long mode
    }

    private void ExecuteAlu(ref DecodedInstruction d, int size, AluOp op)
    {
        ulong src = ReadOperand(ref d, 1, size);
        ulong dst = ReadDestination(ref d, size, out ulong ea);
        if (Faulted)
            return;
        WriteDestination(ref d, size, Alu(op, size, dst, src), ea);
    }

    /// <summary>
    /// The two-operand ALU operations (ADD ADC SUB SBB AND OR XOR): the result, with the lazy flags recorded.
    /// One definition for the general path and the fast path, so they cannot drift apart.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private ulong Alu(AluOp op, int size, ulong dst, ulong src)
    {
        ulong mask = SizeMask(size);
        ulong r;
        switch (op)
        {
            case AluOp.Add:
                r = (dst + src) & mask;
                SetLazyFlags(LazyFlagsOp.Add, size, r, dst, src);
                break;
            case AluOp.Adc:
                r = (dst + src + (GetCF() ? 1UL : 0UL)) & mask;
                SetLazyFlags(LazyFlagsOp.Add, size, r, dst, src);
                break;
            case AluOp.Sub:
                r = (dst - src) & mask;
                SetLazyFlags(LazyFlagsOp.Sub, size, r, dst, src);
                break;
            case AluOp.Sbb:
                r = (dst - src - (GetCF() ? 1UL : 0UL)) & mask;
                SetLazyFlags(LazyFlagsOp.Sub, size, r, dst, src);
                break;
            case AluOp.And:
                r = dst & src;
                SetLazyFlags(LazyFlagsOp.Logic, size, r, 0, 0);
                break;
            case AluOp.Or:
                r = dst | src;
                SetLazyFlags(LazyFlagsOp.Logic, size, r, 0, 0);
                break;
            default:
                r = dst ^ src;
                SetLazyFlags(LazyFlagsOp.Logic, size, r, 0, 0);
                break;
        }

        return r;
    }

    private void ExecuteCompare(ref DecodedInstruction d, int size)
    {
        ulong a = ReadOperand(ref d, 0, size);
        ulong b = ReadOperand(ref d, 1, size);
        if (Faulted)
            return;
        SetLazyFlags(LazyFlagsOp.Sub, size, (a - b) & SizeMask(size), a, b);
    }

    private void ExecuteTest(ref DecodedInstruction d, int size)
    {
        ulong a = ReadOperand(ref d, 0, size);
        ulong b = ReadOperand(ref d, 1, size);
        if (Faulted)
            return;
        SetLazyFlags(LazyFlagsOp.Logic, size, a & b, 0, 0);
    }

    private void ExecuteIncDec(ref DecodedInstruction d, int size, bool increment)
    {
        ulong v = ReadDestination(ref d, size, out ulong ea);
        if (Faulted)
            return;
        ulong r = (increment ? v + 1 : v - 1) & SizeMask(size);
        WriteDestination(ref d, size, r, ea);
        SetIncDecFlags(increment ? LazyFlagsOp.Inc : LazyFlagsOp.Dec, size, r, v);
    }

    private void ExecuteNeg(ref DecodedInstruction d, int size)
    {
        ulong v = ReadDestination(ref d, size, out ulong ea);
        if (Faulted)
            return;
        ulong r = (0 - v) & SizeMask(size);
        WriteDestination(ref d, size, r, ea);
        SetLazyFlags(LazyFlagsOp.Sub, size, r, 0, v);
    }

    private void ExecuteNot(ref DecodedInstruction d, int size)
    {
        ulong v = ReadDestination(ref d, size, out ulong ea);
        if (!Faulted)
            WriteDestination(ref d, size, ~v & SizeMask(size), ea);
    }

    private void ExecuteMul(ref DecodedInstruction d, int size)
    {
        ulong src = ReadOperand(ref d, 0, size);
        if (Faulted)
            return;
        ulong a = ReadGpr(Gpr.Rax, size);
        bool high;
        ulong low;
        switch (size)
        {
            case 1:
                ulong p8 = a * src;
                WriteGpr(Gpr.Rax, 2, p8);
                high = (p8 >> 8) != 0;
                low = p8 & 0xFF;
                break;
            case 2:
                ulong p16 = a * src;
                WriteGpr(Gpr.Rax, 2, p16);
                WriteGpr(Gpr.Rdx, 2, p16 >> 16);
                high = (p16 >> 16) != 0;
                low = p16 & 0xFFFF;
                break;
            case 4:
                ulong p32 = a * src;
                WriteGpr(Gpr.Rax, 4, p32);
                WriteGpr(Gpr.Rdx, 4, p32 >> 32);
                high = (p32 >> 32) != 0;
                low = p32 & 0xFFFF_FFFF;
                break;
            default:
                ulong hi = Math.BigMul(a, src, out ulong lo);
                WriteGpr(Gpr.Rax, 8, lo);
                WriteGpr(Gpr.Rdx, 8, hi);
                high = hi != 0;
                low = lo;
                break;
        }
        SetResultFlags(size, low, high, high);
    }

    private void ExecuteImul(ref DecodedInstruction d, int size)
    {
        ref Instruction i = ref d.Instruction;
        if (i.OpCount == 1)
        {
            long src = SignExtend(ReadOperand(ref d, 0, size), size);
            if (Faulted)
                return;
            long a = SignExtend(ReadGpr(Gpr.Rax, size), size);
            bool overflow;
            ulong low;
            switch (size)
            {
                case 1:
                    long p8 = a * src;
                    WriteGpr(Gpr.Rax, 2, (ulong)p8);
                    overflow = p8 != (sbyte)p8;
                    low = (ulong)p8 & 0xFF;
                    break;
                case 2:
                    long p16 = a * src;
                    WriteGpr(Gpr.Rax, 2, (ulong)p16);
                    WriteGpr(Gpr.Rdx, 2, (ulong)(p16 >> 16));
                    overflow = p16 != (short)p16;
                    low = (ulong)p16 & 0xFFFF;
                    break;
                case 4:
                    long p32 = a * src;
                    WriteGpr(Gpr.Rax, 4, (ulong)p32);
                    WriteGpr(Gpr.Rdx, 4, (ulong)(p32 >> 32));
                    overflow = p32 != (int)p32;
                    low = (ulong)p32 & 0xFFFF_FFFF;
                    break;
                default:
                    long hi = Math.BigMul(a, src, out long lo);
                    WriteGpr(Gpr.Rax, 8, (ulong)lo);
                    WriteGpr(Gpr.Rdx, 8, (ulong)hi);
                    overflow = hi != (lo >> 63);
                    low = (ulong)lo;
                    break;
            }
            SetResultFlags(size, low, overflow, overflow);
            return;
        }

        // Two- and three-operand forms: truncated product into a register.
        long x = SignExtend(ReadOperand(ref d, i.OpCount == 2 ? 0 : 1, size), size);
        long y = SignExtend(ReadOperand(ref d, i.OpCount == 2 ? 1 : 2, size), size);
        if (Faulted)
            return;
        long product;
        bool over;
        if (size == 8)
        {
            long hi = Math.BigMul(x, y, out product);
            over = hi != (product >> 63);
        }
        else
        {
            product = x * y;
            over = product != SignExtend((ulong)product & SizeMask(size), size);
        }
        ulong result = (ulong)product & SizeMask(size);
        WriteRegister(i.Op0Register, result);
        SetResultFlags(size, result, over, over);
    }

    private static long SignExtend(ulong v, int size) => size switch
    {
        1 => (sbyte)v,
        2 => (short)v,
        4 => (int)v,
        _ => (long)v,
    };

    private void ExecuteDiv(ref DecodedInstruction d, int size)
    {
        ulong divisor = ReadOperand(ref d, 0, size);
        if (Faulted)
            return;
        if (divisor == 0)
        {
            RaiseFault(ExceptionVector.DivideError);
            return;
        }
        switch (size)
        {
            case 1:
            {
                ulong dividend = ReadGpr(Gpr.Rax, 2);
                ulong q = dividend / divisor;
                if (q > 0xFF) { RaiseFault(ExceptionVector.DivideError); return; }
                WriteGpr(Gpr.Rax, 2, ((dividend % divisor) << 8) | q);
                break;
            }
            case 2:
            {
                ulong dividend = (ReadGpr(Gpr.Rdx, 2) << 16) | ReadGpr(Gpr.Rax, 2);
                ulong q = dividend / divisor;
                if (q > 0xFFFF) { RaiseFault(ExceptionVector.DivideError); return; }
                WriteGpr(Gpr.Rax, 2, q);
                WriteGpr(Gpr.Rdx, 2, dividend % divisor);
                break;
            }
            case 4:
            {
                ulong dividend = (ReadGpr(Gpr.Rdx, 4) << 32) | ReadGpr(Gpr.Rax, 4);
                ulong q = dividend / divisor;
                if (q > 0xFFFF_FFFF) { RaiseFault(ExceptionVector.DivideError); return; }
                WriteGpr(Gpr.Rax, 4, q);
                WriteGpr(Gpr.Rdx, 4, dividend % divisor);
                break;
            }
            default:
            {
                UInt128 dividend = ((UInt128)_state.Gpr[Gpr.Rdx] << 64) | _state.Gpr[Gpr.Rax];
                UInt128 q = dividend / divisor;
                if (q > ulong.MaxValue) { RaiseFault(ExceptionVector.DivideError); return; }
                _state.Gpr[Gpr.Rax] = (ulong)q;
                _state.Gpr[Gpr.Rdx] = (ulong)(dividend % divisor);
                break;
            }
        }
    }

    private void ExecuteIdiv(ref DecodedInstruction d, int size)
    {
        long divisor = SignExtend(ReadOperand(ref d, 0, size), size);
        if (Faulted)
            return;
        if (divisor == 0)
        {
            RaiseFault(ExceptionVector.DivideError);
            return;
        }
        switch (size)
        {
            case 1:
            {
                long dividend = (short)ReadGpr(Gpr.Rax, 2);
                long q = dividend / divisor;
                if (q != (sbyte)q) { RaiseFault(ExceptionVector.DivideError); return; }
                WriteGpr(Gpr.Rax, 2, (((ulong)(dividend % divisor) & 0xFF) << 8) | ((ulong)q & 0xFF));
                break;
            }
            case 2:
            {
                long dividend = (int)((ReadGpr(Gpr.Rdx, 2) << 16) | ReadGpr(Gpr.Rax, 2));
                long q = dividend / divisor;
                if (q != (short)q) { RaiseFault(ExceptionVector.DivideError); return; }
                WriteGpr(Gpr.Rax, 2, (ulong)q);
                WriteGpr(Gpr.Rdx, 2, (ulong)(dividend % divisor));
                break;
            }
            case 4:
            {
                long dividend = (long)((ReadGpr(Gpr.Rdx, 4) << 32) | ReadGpr(Gpr.Rax, 4));
                if (dividend == long.MinValue && divisor == -1) { RaiseFault(ExceptionVector.DivideError); return; }
                long q = dividend / divisor;
                if (q != (int)q) { RaiseFault(ExceptionVector.DivideError); return; }
                WriteGpr(Gpr.Rax, 4, (ulong)q);
                WriteGpr(Gpr.Rdx, 4, (ulong)(dividend % divisor));
                break;
            }
            default:
            {
                Int128 dividend = (Int128)(((UInt128)_state.Gpr[Gpr.Rdx] << 64) | _state.Gpr[Gpr.Rax]);
                if (divisor == -1 && dividend == Int128.MinValue) { RaiseFault(ExceptionVector.DivideError); return; }
                Int128 q = dividend / divisor;
                if (q != (long)q) { RaiseFault(ExceptionVector.DivideError); return; }
                _state.Gpr[Gpr.Rax] = (ulong)(long)q;
                _state.Gpr[Gpr.Rdx] = (ulong)(long)(dividend % divisor);
                break;
            }
        }
    }

    // ---- BCD (Intel SDM pseudo-code) ----

    private void ExecuteDaa()
    {
        byte oldAl = (byte)_state.Gpr[Gpr.Rax];
        bool oldCf = GetCF();
        bool af = GetAF();
        int al = oldAl;
        bool cf = false;
        if ((al & 0x0F) > 9 || af)
        {
            al += 6;
            cf = oldCf || al > 0xFF;
            af = true;
        }
        else
        {
            af = false;
        }
        if (oldAl > 0x99 || oldCf)
        {
            al += 0x60;
            cf = true;
        }
        WriteGpr(Gpr.Rax, 1, (ulong)al);
        SetResultFlags(1, (byte)al, cf, of: false, af);
    }

    private void ExecuteDas()
    {
        byte oldAl = (byte)_state.Gpr[Gpr.Rax];
        bool oldCf = GetCF();
        bool af = GetAF();
        int al = oldAl;
        bool cf = false;
        if ((al & 0x0F) > 9 || af)
        {
            cf = oldCf || al < 6;
            al -= 6;
            af = true;
        }
        else
        {
            af = false;
        }
        if (oldAl > 0x99 || oldCf)
        {
            al -= 0x60;
            cf = true;
        }
        WriteGpr(Gpr.Rax, 1, (ulong)(byte)al);
        SetResultFlags(1, (byte)al, cf, of: false, af);
    }

    private void ExecuteAaa()
    {
        ulong ax = ReadGpr(Gpr.Rax, 2);
        bool adjust = (ax & 0x0F) > 9 || GetAF();
        if (adjust)
            ax += 0x106;
        WriteGpr(Gpr.Rax, 2, ax & 0xFF0F);
        SetResultFlags(1, ax & 0x0F, adjust, of: false, adjust);
    }

    private void ExecuteAas()
    {
        ulong ax = ReadGpr(Gpr.Rax, 2);
        bool adjust = (ax & 0x0F) > 9 || GetAF();
        if (adjust)
        {
            // AX - 6 lets a borrow out of AL reach AH, then AH - 1 (as the SDM pseudo-code says).
            ax = (ax - 6) & 0xFFFF;
            ax = (ax - 0x100) & 0xFFFF;
        }
        WriteGpr(Gpr.Rax, 2, ax & 0xFF0F);
        SetResultFlags(1, ax & 0x0F, adjust, of: false, adjust);
    }

    private void ExecuteAam(byte imm)
    {
        if (imm == 0)
        {
            RaiseFault(ExceptionVector.DivideError);
            return;
        }
        byte al = (byte)_state.Gpr[Gpr.Rax];
        ulong result = (ulong)(((al / imm) << 8) | (al % imm));
        WriteGpr(Gpr.Rax, 2, result);
        SetLazyFlags(LazyFlagsOp.Logic, 1, result & 0xFF, 0, 0);
    }

    private void ExecuteAad(byte imm)
    {
        ulong ax = ReadGpr(Gpr.Rax, 2);
        ulong product = ((ax >> 8) * imm) & 0xFF;
        ulong al = (ax + product) & 0xFF;
        WriteGpr(Gpr.Rax, 2, al);
        SetLazyFlags(LazyFlagsOp.Add, 1, al, ax & 0xFF, product);
    }
}
