using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// IN/OUT through the bus, with the protected-mode I/O permission check (IOPL, then the TSS bitmap).
public sealed partial class X86Cpu
{
    private void ExecuteIn(ref DecodedInstruction d, int size)
    {
        ushort port = d.Instruction.Op1Kind == OpKind.Register ? (ushort)_state.Gpr[Gpr.Rdx] : d.Instruction.Immediate8;
        if (!IoPermitted(port, size))
            return;
        WriteGpr(Gpr.Rax, size, _bus.ReadPort(port, size));
    }

    private void ExecuteOut(ref DecodedInstruction d)
    {
        int size = d.Instruction.Op1Register.GetSize();
        ushort port = d.Instruction.Op0Kind == OpKind.Register ? (ushort)_state.Gpr[Gpr.Rdx] : d.Instruction.Immediate8;
        if (!IoPermitted(port, size))
            return;
        _bus.WritePort(port, size, (uint)ReadGpr(Gpr.Rax, size));
    }

    /// <summary>True if the current privilege may access the ports; raises #GP(0) otherwise.</summary>
    private bool IoPermitted(ushort port, int size)
    {
        if (!_state.ProtectedMode || (!_state.Virtual8086 && _state.Cpl <= Iopl))
            return true;
        // Consult the I/O permission bitmap of a 32-bit TSS: every bit for the accessed ports must be clear.
        int trType = _state.Tr.Attributes & 0xF;
        if (trType is (int)SystemTypeAvailableTss32 or (int)SystemTypeBusyTss32 && _state.Tr.Limit >= 0x67)
        {
            uint bitmapBase = (uint)ReadSystem(_state.Tr.Base + 0x66, 2);
            uint byteOffset = bitmapBase + (uint)(port >> 3);
            if (!Faulted && byteOffset + 1 <= _state.Tr.Limit)
            {
                uint bits = (uint)ReadSystem(_state.Tr.Base + byteOffset, 2);
                uint mask = ((1u << size) - 1) << (port & 7);
                if (!Faulted && (bits & mask) == 0)
                    return true;
            }
        }
        RaiseFault(ExceptionVector.GeneralProtection, 0);
        return false;
    }
}
