using System.Runtime.CompilerServices;

namespace SplitEmu.CpuHost.Cpu;

// Specialised handlers for the most frequent instruction forms, using operands extracted at decode time.
public sealed partial class X86Cpu
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Execute(ref DecodedInstruction d)
    {
        switch (d.Op)
        {
            case FastOp.Alu: FastAlu(ref d); break;
            case FastOp.Cmp: FastCompare(ref d, test: false); break;
            case FastOp.Test: FastCompare(ref d, test: true); break;
            case FastOp.Mov: FastMov(ref d); break;
            case FastOp.Movzx: FastMovExtend(ref d, signExtend: false); break;
            case FastOp.Movsx: FastMovExtend(ref d, signExtend: true); break;
            case FastOp.Lea: SetReg(d.Reg0, d.Reg0Width, FastEffectiveAddress(ref d)); break;
            case FastOp.IncDec: FastIncDec(ref d); break;
            case FastOp.PushReg: Push(GetReg(d.Reg0, d.Reg0Width), d.OperandSize); break;
            case FastOp.PopReg: FastPop(ref d); break;
            case FastOp.Jcc:
                // JE/JNE dominate; test ZF inline, leave the rest to Condition.
                int cc = d.SubOp;
                if ((cc & ~1) == 4 ? GetZF() != ((cc & 1) != 0) : Condition(cc))
                    NearJump((_nextIp + (ulong)d.BranchDisplacement) & d.Immediate);
                break;
            case FastOp.JmpRel: NearJump((_nextIp + (ulong)d.BranchDisplacement) & d.Immediate); break;
            case FastOp.CallRel: FastCall(ref d); break;
            case FastOp.RetNear: FastRet(ref d); break;
            case FastOp.Shift: FastShift(ref d); break;
            case FastOp.Nop: break;
            case FastOp.Locked: ExecuteLocked(ref d); break;
            default: ExecuteGeneric(ref d); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong GetReg(byte slot, byte width)
    {
        ulong v = _state.Gpr[slot];
        switch ((RegisterWidth)width)
        {
            case RegisterWidth.Low8: return (byte)v;
            case RegisterWidth.High8: return (byte)(v >> 8);
            case RegisterWidth.Bits16: return (ushort)v;
            case RegisterWidth.Bits32: return (uint)v;
            default: return v;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SetReg(byte slot, byte width, ulong value)
    {
        ref ulong r = ref _state.Gpr[slot];
        switch ((RegisterWidth)width)
        {
            case RegisterWidth.Low8: r = (r & ~0xFFUL) | (byte)value; break;
            case RegisterWidth.High8: r = (r & ~0xFF00UL) | ((ulong)(byte)value << 8); break;
            case RegisterWidth.Bits16: r = (r & ~0xFFFFUL) | (ushort)value; break;
            case RegisterWidth.Bits32: r = (uint)value; break;
            default: r = value; break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong FastEffectiveAddress(ref DecodedInstruction d)
    {
        ulong ea = d.Displacement;
        if (d.Base != DecodedInstruction.NoRegister)
            ea += _state.Gpr[d.Base];
        if (d.Index != DecodedInstruction.NoRegister)
            ea += _state.Gpr[d.Index] << d.ScaleShift;
        return ea & d.AddressMask;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastAlu(ref DecodedInstruction d)
    {
        int size = d.OperandSize;
        ulong dst, src, ea = 0;
        switch (d.Form)
        {
            case OperandForm.RegReg:
                dst = GetReg(d.Reg0, d.Reg0Width);
                src = GetReg(d.Reg1, d.Reg1Width);
                break;
            case OperandForm.RegImm:
                dst = GetReg(d.Reg0, d.Reg0Width);
                src = d.Immediate;
                break;
            case OperandForm.RegMem:
                src = ReadSegment(d.Segment, FastEffectiveAddress(ref d), size);
                if (Faulted)
                    return;
                dst = GetReg(d.Reg0, d.Reg0Width);
                break;
            case OperandForm.MemReg:
                ea = FastEffectiveAddress(ref d);
                dst = ReadSegmentForWrite(d.Segment, ea, size);
                if (Faulted)
                    return;
                src = GetReg(d.Reg1, d.Reg1Width);
                break;
            default: // MemImm
                ea = FastEffectiveAddress(ref d);
                dst = ReadSegmentForWrite(d.Segment, ea, size);
                if (Faulted)
                    return;
                src = d.Immediate;
                break;
        }

        ulong r = Alu((AluOp)d.SubOp, size, dst, src);

        if (d.Form is OperandForm.MemReg or OperandForm.MemImm)
            WriteSegment(d.Segment, ea, size, r);
        else
            SetReg(d.Reg0, d.Reg0Width, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastCompare(ref DecodedInstruction d, bool test)
    {
        int size = d.OperandSize;
        ulong a, b;
        switch (d.Form)
        {
            case OperandForm.RegReg:
                a = GetReg(d.Reg0, d.Reg0Width);
                b = GetReg(d.Reg1, d.Reg1Width);
                break;
            case OperandForm.RegImm:
                a = GetReg(d.Reg0, d.Reg0Width);
                b = d.Immediate;
                break;
            case OperandForm.RegMem:
                b = ReadSegment(d.Segment, FastEffectiveAddress(ref d), size);
                a = GetReg(d.Reg0, d.Reg0Width);
                break;
            case OperandForm.MemReg:
                a = ReadSegment(d.Segment, FastEffectiveAddress(ref d), size);
                b = GetReg(d.Reg1, d.Reg1Width);
                break;
            default: // MemImm
                a = ReadSegment(d.Segment, FastEffectiveAddress(ref d), size);
                b = d.Immediate;
                break;
        }
        if (Faulted)
            return;
        if (test)
            SetLazyFlags(LazyFlagsOp.Logic, size, a & b, 0, 0);
        else
            SetLazyFlags(LazyFlagsOp.Sub, size, (a - b) & SizeMask(size), a, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void FastMov(ref DecodedInstruction d)
    {
        switch (d.Form)
        {
            case OperandForm.RegReg:
                SetReg(d.Reg0, d.Reg0Width, GetReg(d.Reg1, d.Reg1Width));
                break;
            case OperandForm.RegImm:
                SetReg(d.Reg0, d.Reg0Width, d.Immediate);
                break;
            case OperandForm.RegMem:
            {
                ulong v = ReadSegment(d.Segment, FastEffectiveAddress(ref d), d.OperandSize);
                if (!Faulted)
                    SetReg(d.Reg0, d.Reg0Width, v);
                break;
            }
            case OperandForm.MemReg:
                WriteSegment(d.Segment, FastEffectiveAddress(ref d), d.OperandSize, GetReg(d.Reg1, d.Reg1Width));
                break;
            default: // MemImm
                WriteSegment(d.Segment, FastEffectiveAddress(ref d), d.OperandSize, d.Immediate);
                break;
        }
    }

    private void FastMovExtend(ref DecodedInstruction d, bool signExtend)
    {
        int sourceSize = d.SubOp;
        ulong v = d.Form == OperandForm.RegReg
            ? GetReg(d.Reg1, d.Reg1Width)
            : ReadSegment(d.Segment, FastEffectiveAddress(ref d), sourceSize);
        if (Faulted)
            return;
        if (signExtend)
            v = sourceSize == 1 ? (ulong)(long)(sbyte)v : (ulong)(long)(short)v;
        SetReg(d.Reg0, d.Reg0Width, v);
    }

    private void FastIncDec(ref DecodedInstruction d)
    {
        int size = d.OperandSize;
        bool increment = d.SubOp != 0;
        if (d.Form == OperandForm.Reg)
        {
            ulong v = GetReg(d.Reg0, d.Reg0Width);
            ulong r = (increment ? v + 1 : v - 1) & SizeMask(size);
            SetReg(d.Reg0, d.Reg0Width, r);
            SetIncDecFlags(increment ? LazyFlagsOp.Inc : LazyFlagsOp.Dec, size, r, v);
            return;
        }
        ulong ea = FastEffectiveAddress(ref d);
        ulong m = ReadSegmentForWrite(d.Segment, ea, size);
        if (Faulted)
            return;
        ulong result = (increment ? m + 1 : m - 1) & SizeMask(size);
        WriteSegment(d.Segment, ea, size, result);
        SetIncDecFlags(increment ? LazyFlagsOp.Inc : LazyFlagsOp.Dec, size, result, m);
    }

    private void FastPop(ref DecodedInstruction d)
    {
        int size = d.OperandSize;
        ulong v = PeekStack(0, size);
        if (Faulted)
            return;
        SetStackPointer(StackPointer + (ulong)size);
        SetReg(d.Reg0, d.Reg0Width, v); // POP SP: the popped value wins over the increment
    }

    private void FastCall(ref DecodedInstruction d)
    {
        ulong target = (_nextIp + (ulong)d.BranchDisplacement) & d.Immediate;
        if (target > _state.Segments[SegmentIndex.CS].Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        if (Push(_nextIp, d.SubOp))
            _nextIp = target;
    }

    private void FastRet(ref DecodedInstruction d)
    {
        int size = d.SubOp;
        ulong target = PeekStack(0, size);
        if (Faulted)
            return;
        if (target > _state.Segments[SegmentIndex.CS].Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        SetStackPointer(StackPointer + (ulong)size);
        _nextIp = target;
    }
}
