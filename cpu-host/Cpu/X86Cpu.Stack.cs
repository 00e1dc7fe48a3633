using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// Stack: SS:SP or SS:ESP by the B bit of SS; pushes and pops commit SP only when the memory access succeeded.
public sealed partial class X86Cpu
{
    private ulong StackMask => _state.Segments[SegmentIndex.SS].Big ? 0xFFFF_FFFFUL : 0xFFFFUL;

    private ulong StackPointer => _state.Gpr[Gpr.Rsp] & StackMask;

    /// <summary>Sets SP or ESP (a 16-bit stack leaves the upper half of ESP alone).</summary>
    private void SetStackPointer(ulong value)
    {
        ulong mask = StackMask;
        _state.Gpr[Gpr.Rsp] = (_state.Gpr[Gpr.Rsp] & ~mask) | (value & mask);
    }

    private bool Push(ulong value, int size)
    {
        ulong sp = (StackPointer - (ulong)size) & StackMask;
        WriteSegment(SegmentIndex.SS, sp, size, value);
        if (Faulted)
            return false;
        SetStackPointer(sp);
        return true;
    }

    /// <summary>Reads the stack at SP + <paramref name="offset"/> without popping.</summary>
    private ulong PeekStack(ulong offset, int size) => ReadSegment(SegmentIndex.SS, (StackPointer + offset) & StackMask, size);

    private void ExecutePush(ref DecodedInstruction d)
    {
        int size = -d.Instruction.StackPointerIncrement;
        ulong value = d.Instruction.Op0Kind == OpKind.Register && d.Instruction.Op0Register == Register.SP
            ? _state.Gpr[Gpr.Rsp] // PUSH SP pushes the value before the push (286 and later)
            : ReadOperand(ref d, 0, size);
        if (!Faulted)
            Push(value, size);
    }

    private void ExecutePop(ref DecodedInstruction d)
    {
        ref Instruction i = ref d.Instruction;
        int size = i.StackPointerIncrement;
        ulong value = PeekStack(0, size);
        if (Faulted)
            return;
        ulong oldSp = _state.Gpr[Gpr.Rsp];
        SetStackPointer(StackPointer + (ulong)size);
        if (i.Op0Kind == OpKind.Register)
        {
            Register r = i.Op0Register;
            if (r.IsSegmentRegister())
            {
                LoadSegmentRegister(r - Register.ES, (ushort)value);
                if (Faulted)
                    _state.Gpr[Gpr.Rsp] = oldSp;
                return;
            }
            WriteRegister(r, value);
            return;
        }
        // POP r/m computes its address with the incremented SP.
        WriteSegment(MemorySegment(ref d), EffectiveAddress(ref d), size, value);
        if (Faulted)
            _state.Gpr[Gpr.Rsp] = oldSp;
    }

    private void ExecutePusha(int size)
    {
        ulong sp = StackPointer;
        ulong mask = StackMask;
        for (int r = 0; r < 8; r++)
        {
            // The stack pointer as it was: PUSHAD pushes all of ESP even on a 16-bit stack, PUSHA its low 16 bits.
            ulong value = _state.Gpr[r];
            WriteSegment(SegmentIndex.SS, (sp - (ulong)((r + 1) * size)) & mask, size, value);
            if (Faulted)
                return;
        }
        SetStackPointer(sp - (ulong)(8 * size));
    }

    private void ExecutePopa(int size)
    {
        Span<ulong> values = stackalloc ulong[8];
        for (int r = 0; r < 8; r++)
        {
            values[7 - r] = PeekStack((ulong)(r * size), size);
            if (Faulted)
                return;
        }
        for (int r = 0; r < 8; r++)
        {
            if (r != Gpr.Rsp)
                WriteGpr(r, size, values[r]);
        }
        SetStackPointer(StackPointer + (ulong)(8 * size));
    }

    private void ExecutePushf(int size)
    {
        if (_state.Virtual8086 && Iopl < 3)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        // VM and RF are never seen in the pushed image.
        Push(GetEflags() & ~(EflagsBits.VM | EflagsBits.RF), size);
    }

    private void ExecutePopf(int size)
    {
        if (_state.Virtual8086 && Iopl < 3)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        ulong value = PeekStack(0, size);
        if (Faulted)
            return;
        SetStackPointer(StackPointer + (ulong)size);
        SetEflags((uint)value, PopfMask(size));
    }

    /// <summary>Flags POPF/IRET may change at the current privilege: IOPL only at CPL 0, IF only when CPL ≤ IOPL.</summary>
    private uint PopfMask(int size)
    {
        uint mask = EflagsBits.Arithmetic | EflagsBits.TF | EflagsBits.DF | EflagsBits.NT | EflagsBits.IF | EflagsBits.IoplMask
                    | EflagsBits.AC | EflagsBits.ID;
        if (_state.ProtectedMode && !_state.Virtual8086)
        {
            if (_state.Cpl > 0)
                mask &= ~EflagsBits.IoplMask;
            if (_state.Cpl > Iopl)
                mask &= ~EflagsBits.IF;
        }
        else if (_state.Virtual8086)
        {
            mask &= ~EflagsBits.IoplMask;
        }
        return size == 2 ? mask & 0xFFFF : mask;
    }

    private int Iopl => (int)((_state.Eflags >> EflagsBits.IoplShift) & 3);

    private void ExecuteEnter(ref DecodedInstruction d)
    {
        int size = d.Instruction.Code == Code.Enterw_imm16_imm8 ? 2 : d.Instruction.Code == Code.Enterq_imm16_imm8 ? 8 : 4;
        ulong allocSize = d.Instruction.Immediate16;
        int level = d.Instruction.Immediate8_2nd & 31;
        ulong mask = StackMask;
        ulong sp = StackPointer;

        sp = (sp - (ulong)size) & mask;
        WriteSegment(SegmentIndex.SS, sp, size, _state.Gpr[Gpr.Rbp]);
        if (Faulted)
            return;
        // The new frame pointer is the whole of ESP after that push: on a 16-bit stack only SP moved, and a
        // 32-bit ENTER still stores and loads all 32 bits (EBP gets ESP's upper half too).
        ulong frameTemp = (_state.Gpr[Gpr.Rsp] & ~mask) | sp;
        ulong bp = _state.Gpr[Gpr.Rbp];
        for (int n = 1; n < level; n++)
        {
            bp = (bp - (ulong)size) & mask;
            ulong v = ReadSegment(SegmentIndex.SS, bp, size);
            sp = (sp - (ulong)size) & mask;
            WriteSegment(SegmentIndex.SS, sp, size, v);
            if (Faulted)
                return;
        }
        if (level > 0)
        {
            sp = (sp - (ulong)size) & mask;
            WriteSegment(SegmentIndex.SS, sp, size, frameTemp);
            if (Faulted)
                return;
        }
        ulong newSp = (sp - allocSize) & mask;
        // ENTER ends by checking that an operand at the final stack pointer could be written (segment limit and
        // page, so a ring 3 ENTER cannot finish on a supervisor page) without writing it.
        if (!ProbeSegmentWritable(SegmentIndex.SS, newSp, size))
            return;
        WriteGpr(Gpr.Rbp, size, frameTemp);
        SetStackPointer(newSp);
    }

    private void ExecuteLeave(ref DecodedInstruction d)
    {
        int size = d.Instruction.Code == Code.Leavew ? 2 : d.Instruction.Code == Code.Leaveq ? 8 : 4;
        ulong bp = _state.Gpr[Gpr.Rbp] & StackMask;
        ulong value = ReadSegment(SegmentIndex.SS, bp, size);
        if (Faulted)
            return;
        SetStackPointer(bp + (ulong)size);
        WriteGpr(Gpr.Rbp, size, value);
    }
}
