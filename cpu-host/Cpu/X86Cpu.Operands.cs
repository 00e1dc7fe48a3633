using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// Operand access: Iced registers to CpuState slots, effective addresses, generic operand read/write.
public sealed partial class X86Cpu
{
    /// <summary>How an Iced register maps onto CpuState: GPR slot and width (or high byte).</summary>
    private enum RegisterWidth : byte { None, Low8, High8, Bits16, Bits32, Bits64 }

    private static readonly byte[] s_registerSlot = new byte[256];
    private static readonly RegisterWidth[] s_registerWidth = new RegisterWidth[256];

    static X86Cpu()
    {
        foreach (Register r in Enum.GetValues<Register>())
        {
            if ((int)r >= 256 || !r.IsGPR())
                continue;
            int slot = r.GetFullRegister() - Register.RAX;
            RegisterWidth width = r.GetSize() switch { 1 => RegisterWidth.Low8, 2 => RegisterWidth.Bits16, 4 => RegisterWidth.Bits32, _ => RegisterWidth.Bits64 };
            if (r is Register.AH or Register.CH or Register.DH or Register.BH)
            {
                width = RegisterWidth.High8;
                slot = r - Register.AH;
            }
            s_registerSlot[(int)r] = (byte)slot;
            s_registerWidth[(int)r] = width;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadRegister(Register r)
    {
        ulong v = _state.Gpr[s_registerSlot[(int)r]];
        switch (s_registerWidth[(int)r])
        {
            case RegisterWidth.Low8: return (byte)v;
            case RegisterWidth.High8: return (byte)(v >> 8);
            case RegisterWidth.Bits16: return (ushort)v;
            case RegisterWidth.Bits32: return (uint)v;
            case RegisterWidth.Bits64: return v;
            default: return ReadNonGprRegister(r);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteRegister(Register r, ulong value)
    {
        ref ulong slot = ref _state.Gpr[s_registerSlot[(int)r]];
        switch (s_registerWidth[(int)r])
        {
            case RegisterWidth.Low8: slot = (slot & ~0xFFUL) | (byte)value; break;
            case RegisterWidth.High8: slot = (slot & ~0xFF00UL) | ((ulong)(byte)value << 8); break;
            case RegisterWidth.Bits16: slot = (slot & ~0xFFFFUL) | (ushort)value; break;
            case RegisterWidth.Bits32: slot = (uint)value; break; // as in long mode: 32-bit writes zero the top half
            default: slot = value; break;
        }
    }

    private ulong ReadNonGprRegister(Register r)
    {
        if (r >= Register.ES && r <= Register.GS)
            return _state.Segments[r - Register.ES].Selector;
        return 0;
    }

    /// <summary>Register of a given slot and operand size (for instructions with implicit operands).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadGpr(int slot, int size) => _state.Gpr[slot] & SizeMask(size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteGpr(int slot, int size, ulong value)
    {
        ref ulong r = ref _state.Gpr[slot];
        switch (size)
        {
            case 1: r = (r & ~0xFFUL) | (byte)value; break;
            case 2: r = (r & ~0xFFFFUL) | (ushort)value; break;
            case 4: r = (uint)value; break;
            default: r = value; break;
        }
    }

    /// <summary>Offset (within its segment) of the instruction's memory operand.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong EffectiveAddress(ref DecodedInstruction d)
    {
        ref Instruction i = ref d.Instruction;
        ulong ea = i.MemoryDisplacement64;
        Register b = i.MemoryBase;
        if (b != Register.None)
            ea += ReadRegister(b);
        Register x = i.MemoryIndex;
        if (x != Register.None)
            ea += ReadRegister(x) * (ulong)i.MemoryIndexScale;
        return d.AddressSize == 2 ? ea & 0xFFFF : d.AddressSize == 4 ? ea & 0xFFFF_FFFF : ea;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MemorySegment(ref DecodedInstruction d) => d.Instruction.MemorySegment - Register.ES;

    /// <summary>Reads operand <paramref name="op"/> (register, memory or immediate) at <paramref name="size"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadOperand(ref DecodedInstruction d, int op, int size)
    {
        switch (d.Instruction.GetOpKind(op))
        {
            case OpKind.Register:
                return ReadRegister(d.Instruction.GetOpRegister(op));
            case OpKind.Memory:
                return ReadSegment(MemorySegment(ref d), EffectiveAddress(ref d), size);
            default:
                return d.Instruction.GetImmediate(op) & SizeMask(size);
        }
    }

    /// <summary>Reads operand 0 for read-modify-write: a memory destination is checked for writability now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadDestination(ref DecodedInstruction d, int size, out ulong ea)
    {
        if (d.Instruction.Op0Kind == OpKind.Register)
        {
            ea = 0;
            return ReadRegister(d.Instruction.Op0Register);
        }
        ea = EffectiveAddress(ref d);
        return ReadSegmentForWrite(MemorySegment(ref d), ea, size);
    }

    /// <summary>Writes operand 0 (register or memory at <paramref name="ea"/> from <see cref="ReadDestination"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteDestination(ref DecodedInstruction d, int size, ulong value, ulong ea)
    {
        if (d.Instruction.Op0Kind == OpKind.Register)
            WriteRegister(d.Instruction.Op0Register, value);
        else
            WriteSegment(MemorySegment(ref d), ea, size, value);
    }

    /// <summary>Writes operand 0 when it was not read first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteOperand0(ref DecodedInstruction d, int size, ulong value)
    {
        if (d.Instruction.Op0Kind == OpKind.Register)
            WriteRegister(d.Instruction.Op0Register, value);
        else
            WriteSegment(MemorySegment(ref d), EffectiveAddress(ref d), size, value);
    }
}
