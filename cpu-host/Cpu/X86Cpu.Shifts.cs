using System.Numerics;
using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>The shift and rotate group (ModRM reg field order).</summary>
internal enum ShiftOp : byte { Rol, Ror, Rcl, Rcr, Shl, Shr, Sal, Sar }

// Shifts, rotates, double shifts, bit tests and bit scans.
public sealed partial class X86Cpu
{
    private void ExecuteShift(ref DecodedInstruction d, int size)
    {
        ref Instruction i = ref d.Instruction;
        // The count is CL, an immediate, or 1 (D0/D1 forms carry an immediate 1 in Iced).
        int count = (int)(i.OpCount > 1 ? ReadOperand(ref d, 1, 1) : 1) & (size == 8 ? 0x3F : 0x1F);
        ulong v = ReadDestination(ref d, size, out ulong ea);
        if (Faulted || count == 0)
            return;
        WriteDestination(ref d, size, ShiftCore(ShiftOpOf(i.Mnemonic), size, v, count), ea);
    }

    /// <summary>Shift/rotate with pre-extracted operands: register or memory destination, count in CL or an immediate.</summary>
    private void FastShift(ref DecodedInstruction d)
    {
        int size = d.OperandSize;
        ulong rawCount = d.Form is OperandForm.RegReg or OperandForm.MemReg ? (byte)_state.Gpr[Gpr.Rcx] : d.Immediate;
        int count = (int)rawCount & (size == 8 ? 0x3F : 0x1F);
        if (d.Form is OperandForm.RegReg or OperandForm.RegImm)
        {
            if (count != 0)
                SetReg(d.Reg0, d.Reg0Width, ShiftCore((ShiftOp)d.SubOp, size, GetReg(d.Reg0, d.Reg0Width), count));
            return;
        }
        ulong ea = FastEffectiveAddress(ref d);
        ulong v = ReadSegmentForWrite(d.Segment, ea, size);
        if (Faulted || count == 0)
            return;
        WriteSegment(d.Segment, ea, size, ShiftCore((ShiftOp)d.SubOp, size, v, count));
    }

    internal static ShiftOp ShiftOpOf(Mnemonic m) => m switch
    {
        Mnemonic.Rol => ShiftOp.Rol,
        Mnemonic.Ror => ShiftOp.Ror,
        Mnemonic.Rcl => ShiftOp.Rcl,
        Mnemonic.Rcr => ShiftOp.Rcr,
        Mnemonic.Shr => ShiftOp.Shr,
        Mnemonic.Sar => ShiftOp.Sar,
        _ => ShiftOp.Shl, // SHL and its alias SAL
    };

    /// <summary>Computes a shift or rotate by a nonzero (already masked) count and sets the flags it defines.</summary>
    private ulong ShiftCore(ShiftOp op, int size, ulong v, int count)
    {
        int bits = size * 8;
        ulong mask = SizeMask(size);
        ulong signBit = 1UL << (bits - 1);
        ulong r;
        bool cf, of;
        switch (op)
        {
            case ShiftOp.Rol:
            {
                int n = count & (bits - 1);
                r = n == 0 ? v : ((v << n) | (v >> (bits - n))) & mask;
                cf = (r & 1) != 0;
                of = ((r & signBit) != 0) != cf;
                SetCarryAndOverflowOnly(cf, of);
                return r;
            }
            case ShiftOp.Ror:
            {
                int n = count & (bits - 1);
                r = n == 0 ? v : ((v >> n) | (v << (bits - n))) & mask;
                cf = (r & signBit) != 0;
                of = (((r << 1) ^ r) & signBit) != 0;
                SetCarryAndOverflowOnly(cf, of);
                return r;
            }
            case ShiftOp.Rcl:
            {
                int n = size <= 2 ? count % (bits + 1) : count;
                bool carry = GetCF();
                r = v;
                for (int k = 0; k < n; k++)
                {
                    bool outBit = (r & signBit) != 0;
                    r = ((r << 1) | (carry ? 1UL : 0UL)) & mask;
                    carry = outBit;
                }
                cf = carry;
                of = ((r & signBit) != 0) != cf;
                SetCarryAndOverflowOnly(cf, of);
                return r;
            }
            case ShiftOp.Rcr:
            {
                int n = size <= 2 ? count % (bits + 1) : count;
                bool carry = GetCF();
                r = v;
                for (int k = 0; k < n; k++)
                {
                    bool outBit = (r & 1) != 0;
                    r = (r >> 1) | (carry ? signBit : 0);
                    carry = outBit;
                }
                cf = carry;
                of = (((r << 1) ^ r) & signBit) != 0;
                SetCarryAndOverflowOnly(cf, of);
                return r;
            }
            case ShiftOp.Shr:
                r = count >= 64 ? 0 : v >> count;
                cf = count <= 64 && ((v >> (count - 1)) & 1) != 0;
                // Defined for a count of 1 (the old sign bit); for larger counts hardware gives the XOR of the
                // result's two top bits, which equals it when the count is 1.
                of = (((r << 1) ^ r) & signBit) != 0;
                break;
            case ShiftOp.Sar:
            {
                long s = SignExtend(v, size);
                int c = Math.Min(count, 63);
                r = (ulong)(s >> c) & mask;
                cf = ((s >> (c - 1)) & 1) != 0;
                of = false;
                break;
            }
            default: // Shl, Sal
            {
                UInt128 wide = (UInt128)v << count;
                r = (ulong)wide & mask;
                cf = ((wide >> bits) & 1) != 0;
                of = ((r & signBit) != 0) != cf;
                break;
            }
        }
        SetResultFlags(size, r, cf, of);
        return r;
    }

    /// <summary>
    /// Rotates change only CF and OF. ZF, SF and PF keep coming from the last result lazily; AF (which may
    /// depend on that operation's operands) is made concrete first.
    /// </summary>
    private void SetCarryAndOverflowOnly(bool cf, bool of)
    {
        uint f = _state.Eflags & ~(EflagsBits.CF | EflagsBits.OF | EflagsBits.AF);
        if (_flagsOp == LazyFlagsOp.None)
        {
            f |= _state.Eflags & EflagsBits.AF;
        }
        else
        {
            if (GetAF()) f |= EflagsBits.AF;
            _flagsOp = LazyFlagsOp.ResultOnly;
        }
        if (cf) f |= EflagsBits.CF;
        if (of) f |= EflagsBits.OF;
        _state.Eflags = f;
    }

    private void ExecuteDoubleShift(ref DecodedInstruction d, int size, bool left)
    {
        ulong src = ReadRegister(d.Instruction.Op1Register);
        int count = (int)ReadOperand(ref d, 2, 1) & (size == 8 ? 0x3F : 0x1F);
        ulong dst = ReadDestination(ref d, size, out ulong ea);
        if (Faulted || count == 0)
            return;
        int bits = size * 8;
        ulong mask = SizeMask(size);
        ulong signBit = 1UL << (bits - 1);
        ulong r;
        bool cf;
        if (left)
        {
            // dst:src (then src again, for 16-bit counts above 16) shifted left.
            UInt128 wide = ((UInt128)dst << (2 * bits)) | ((UInt128)src << bits) | src;
            UInt128 shifted = wide << count;
            r = (ulong)(shifted >> (2 * bits)) & mask;
            cf = ((wide >> (3 * bits - count)) & 1) != 0;
        }
        else
        {
            UInt128 wide = ((UInt128)src << (2 * bits)) | ((UInt128)src << bits) | dst;
            r = (ulong)(wide >> count) & mask;
            cf = ((wide >> (count - 1)) & 1) != 0;
        }
        bool of = ((r ^ dst) & signBit) != 0;
        WriteDestination(ref d, size, r, ea);
        SetResultFlags(size, r, cf, of);
    }

    private void ExecuteBitTest(ref DecodedInstruction d, int size)
    {
        ref Instruction i = ref d.Instruction;
        int bits = size * 8;
        ulong offset = ReadOperand(ref d, 1, size);
        bool registerOffset = i.Op1Kind == OpKind.Register;
        bool modifies = i.Mnemonic != Mnemonic.Bt;
        int bit;
        ulong value;
        int seg = 0;
        ulong ea = 0;
        if (i.Op0Kind == OpKind.Register)
        {
            bit = (int)(offset & (ulong)(bits - 1));
            value = ReadRegister(i.Op0Register);
        }
        else
        {
            seg = MemorySegment(ref d);
            ea = EffectiveAddress(ref d);
            if (registerOffset)
            {
                // A register bit offset is signed and may reach outside the addressed operand.
                long signedOffset = SignExtend(offset, size);
                ea = (ea + (ulong)((signedOffset >> BitOperations.Log2((uint)bits)) * size)) & (d.AddressSize == 2 ? 0xFFFFUL : d.AddressSize == 4 ? 0xFFFF_FFFFUL : ulong.MaxValue);
            }
            bit = (int)(offset & (ulong)(bits - 1));
            value = modifies ? ReadSegmentForWrite(seg, ea, size) : ReadSegment(seg, ea, size);
        }
        if (Faulted)
            return;

        bool old = ((value >> bit) & 1) != 0;
        SetFlag(EflagsBits.CF, old);
        if (!modifies)
            return;
        ulong b = 1UL << bit;
        ulong r = i.Mnemonic switch
        {
            Mnemonic.Bts => value | b,
            Mnemonic.Btr => value & ~b,
            _ => value ^ b,
        };
        if (i.Op0Kind == OpKind.Register)
            WriteRegister(i.Op0Register, r);
        else
            WriteSegment(seg, ea, size, r);
    }

    private void ExecuteBitScan(ref DecodedInstruction d, int size, bool forward)
    {
        ulong v = ReadOperand(ref d, 1, size);
        if (Faulted)
            return;
        MaterializeFlags();
        if (v == 0)
        {
            _state.Eflags |= EflagsBits.ZF; // destination left unchanged
            return;
        }
        _state.Eflags &= ~EflagsBits.ZF;
        int index = forward ? BitOperations.TrailingZeroCount(v) : 63 - BitOperations.LeadingZeroCount(v);
        WriteRegister(d.Instruction.Op0Register, (ulong)index);
    }
}
