using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// Turning an Iced instruction into the executor's DecodedInstruction (done once per cache fill).
public sealed partial class X86Cpu
{
    /// <summary>Fills in the executor's view of a freshly decoded instruction.</summary>
    private static void Describe(ref DecodedInstruction d, in Instruction instruction)
    {
        d.Instruction = instruction;
        d.Length = (byte)instruction.Length;
        d.BranchDisplacement = 0;
        d.OperandSize = (byte)OperandSizeOf(in instruction);
        d.AddressSize = (byte)AddressSizeOf(in instruction);
        d.AddressMask = AddressMask(d.AddressSize);
        if (instruction.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64)
            d.BranchDisplacement = (long)(instruction.NearBranchTarget - instruction.NextIP);

        d.Reg0 = d.Reg1 = d.Base = d.Index = DecodedInstruction.NoRegister;
        d.Reg0Width = d.Reg1Width = 0;
        d.ScaleShift = 0;
        d.Segment = 0;
        d.Displacement = 0;
        d.Immediate = 0;
        d.SubOp = 0;
        d.Form = ClassifyOperands(ref d, in instruction);
        d.Op = ChooseFastOp(ref d, in instruction);
        if (IsLockedMemoryOperation(in instruction))
            d.Op = FastOp.Locked;
    }

    private static OperandForm ClassifyOperands(ref DecodedInstruction d, in Instruction i)
    {
        bool hasMemory = false;
        for (int op = 0; op < i.OpCount; op++)
        {
            if (i.GetOpKind(op) == OpKind.Memory)
                hasMemory = true;
        }
        if (hasMemory)
        {
            Register b = i.MemoryBase, x = i.MemoryIndex;
            if ((b != Register.None && !b.IsGPR()) || (x != Register.None && !x.IsGPR()))
                return OperandForm.Other; // RIP-relative or odd forms stay on the generic path
            d.Base = b == Register.None ? DecodedInstruction.NoRegister : s_registerSlot[(int)b];
            d.Index = x == Register.None ? DecodedInstruction.NoRegister : s_registerSlot[(int)x];
            d.ScaleShift = (byte)System.Numerics.BitOperations.Log2((uint)i.MemoryIndexScale);
            d.Segment = (byte)(i.MemorySegment - Register.ES);
            d.Displacement = i.MemoryDisplacement64 & d.AddressMask;
            if (!HasPlainMemoryOperand(in i))
                return OperandForm.Other; // XLAT's AL index
        }

        if (i.OpCount == 1)
        {
            OpKind k = i.Op0Kind;
            if (k == OpKind.Register && SetRegister(ref d.Reg0, ref d.Reg0Width, i.Op0Register))
                return OperandForm.Reg;
            return k == OpKind.Memory ? OperandForm.Mem : OperandForm.Other;
        }
        if (i.OpCount != 2)
            return OperandForm.Other;

        OpKind k0 = i.Op0Kind, k1 = i.Op1Kind;
        bool r0 = k0 == OpKind.Register && SetRegister(ref d.Reg0, ref d.Reg0Width, i.Op0Register);
        bool r1 = k1 == OpKind.Register && SetRegister(ref d.Reg1, ref d.Reg1Width, i.Op1Register);
        bool imm1 = k1 is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate8to16
            or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64 or OpKind.Immediate64;
        if (imm1)
            d.Immediate = i.GetImmediate(1) & SizeMask(d.OperandSize);

        if (r0 && r1) return OperandForm.RegReg;
        if (r0 && imm1) return OperandForm.RegImm;
        if (r0 && k1 == OpKind.Memory) return OperandForm.RegMem;
        if (k0 == OpKind.Memory && r1) return OperandForm.MemReg;
        if (k0 == OpKind.Memory && imm1) return OperandForm.MemImm;
        return OperandForm.Other;
    }

    /// <summary>
    /// Whether the memory operand is base + index * scale + displacement in general-purpose registers, the form the
    /// fast paths and the translator compute (not RIP-relative, not XLAT's AL index).
    /// </summary>
    private static bool HasPlainMemoryOperand(in Instruction i)
    {
        Register b = i.MemoryBase, x = i.MemoryIndex;
        return (b == Register.None || b.IsGPR()) && (x == Register.None || (x.IsGPR() && x.GetSize() != 1))
               && b is not (Register.AH or Register.CH or Register.DH or Register.BH);
    }

    /// <summary>Relative branches truncate the target to their operand size.</summary>
    private static ulong BranchMask(in Instruction i) => i.Op0Kind == OpKind.NearBranch16 ? 0xFFFFUL : 0xFFFF_FFFFUL;

    /// <summary>Records a general-purpose register operand; false for segment, control and other registers.</summary>
    private static bool SetRegister(ref byte slot, ref byte width, Register r)
    {
        if ((int)r >= s_registerWidth.Length || s_registerWidth[(int)r] == RegisterWidth.None)
            return false;
        slot = s_registerSlot[(int)r];
        width = (byte)s_registerWidth[(int)r];
        return true;
    }

    private static FastOp ChooseFastOp(ref DecodedInstruction d, in Instruction i)
    {
        OperandForm f = d.Form;
        bool twoOperand = f is OperandForm.RegReg or OperandForm.RegImm or OperandForm.RegMem or OperandForm.MemReg or OperandForm.MemImm;
        switch (i.Mnemonic)
        {
            case Mnemonic.Add: d.SubOp = (byte)AluOp.Add; return twoOperand ? FastOp.Alu : FastOp.Generic;
            case Mnemonic.Or: d.SubOp = (byte)AluOp.Or; return twoOperand ? FastOp.Alu : FastOp.Generic;
            case Mnemonic.Adc: d.SubOp = (byte)AluOp.Adc; return twoOperand ? FastOp.Alu : FastOp.Generic;
            case Mnemonic.Sbb: d.SubOp = (byte)AluOp.Sbb; return twoOperand ? FastOp.Alu : FastOp.Generic;
            case Mnemonic.And: d.SubOp = (byte)AluOp.And; return twoOperand ? FastOp.Alu : FastOp.Generic;
            case Mnemonic.Sub: d.SubOp = (byte)AluOp.Sub; return twoOperand ? FastOp.Alu : FastOp.Generic;
            case Mnemonic.Xor: d.SubOp = (byte)AluOp.Xor; return twoOperand ? FastOp.Alu : FastOp.Generic;
            case Mnemonic.Cmp: return twoOperand ? FastOp.Cmp : FastOp.Generic;
            case Mnemonic.Test: return twoOperand && f != OperandForm.RegMem ? FastOp.Test : FastOp.Generic;
            case Mnemonic.Mov: return twoOperand ? FastOp.Mov : FastOp.Generic;
            case Mnemonic.Movzx:
            case Mnemonic.Movsx:
                if (f is not (OperandForm.RegReg or OperandForm.RegMem))
                    return FastOp.Generic;
                d.SubOp = (byte)(f == OperandForm.RegReg ? i.Op1Register.GetSize() : i.MemorySize.GetSize()); // source size
                return i.Mnemonic == Mnemonic.Movzx ? FastOp.Movzx : FastOp.Movsx;
            case Mnemonic.Lea: return f == OperandForm.RegMem ? FastOp.Lea : FastOp.Generic;
            case Mnemonic.Inc: d.SubOp = 1; return f is OperandForm.Reg or OperandForm.Mem ? FastOp.IncDec : FastOp.Generic;
            case Mnemonic.Dec: d.SubOp = 0; return f is OperandForm.Reg or OperandForm.Mem ? FastOp.IncDec : FastOp.Generic;
            case Mnemonic.Push: return f == OperandForm.Reg && d.Reg0 != Gpr.Rsp ? FastOp.PushReg : FastOp.Generic;
            case Mnemonic.Pop: return f == OperandForm.Reg ? FastOp.PopReg : FastOp.Generic;
            case Mnemonic.Je: case Mnemonic.Jne: case Mnemonic.Jb: case Mnemonic.Jae:
            case Mnemonic.Jbe: case Mnemonic.Ja: case Mnemonic.Js: case Mnemonic.Jns:
            case Mnemonic.Jp: case Mnemonic.Jnp: case Mnemonic.Jl: case Mnemonic.Jge:
            case Mnemonic.Jle: case Mnemonic.Jg: case Mnemonic.Jo: case Mnemonic.Jno:
                d.SubOp = (byte)ConditionCodeOf(in i);
                d.Immediate = BranchMask(in i);
                return FastOp.Jcc;
            case Mnemonic.Jmp:
                d.Immediate = BranchMask(in i);
                return i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 ? FastOp.JmpRel : FastOp.Generic;
            case Mnemonic.Call:
                d.Immediate = BranchMask(in i);
                d.SubOp = (byte)(i.Op0Kind == OpKind.NearBranch16 ? 2 : 4); // size of the pushed return address
                return i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 ? FastOp.CallRel : FastOp.Generic;
            case Mnemonic.Ret:
                d.SubOp = (byte)(i.Code == Code.Retnw ? 2 : 4);
                return i.Code is Code.Retnw or Code.Retnd ? FastOp.RetNear : FastOp.Generic;
            case Mnemonic.Rol: case Mnemonic.Ror: case Mnemonic.Rcl: case Mnemonic.Rcr:
            case Mnemonic.Shl: case Mnemonic.Sal: case Mnemonic.Shr: case Mnemonic.Sar:
                if (!twoOperand || (f is OperandForm.RegReg or OperandForm.MemReg && i.Op1Register != Register.CL))
                    return FastOp.Generic;
                d.SubOp = (byte)ShiftOpOf(i.Mnemonic);
                return FastOp.Shift;
            case Mnemonic.Nop: return FastOp.Nop;
            default: return FastOp.Generic;
        }
    }

    /// <summary>Per Iced Code: the counter width of LOOP/LOOPE/LOOPNE/JCXZ forms (which name it), else 0.</summary>
    private static readonly byte[] s_counterAddressSize = BuildCounterAddressSizes();

    private static byte[] BuildCounterAddressSizes()
    {
        var sizes = new byte[Enum.GetValues<Code>().Length];
        foreach (Code c in Enum.GetValues<Code>())
        {
            string name = c.ToString();
            if (!name.StartsWith("Loop", StringComparison.Ordinal) && !name.StartsWith("J", StringComparison.Ordinal))
                continue;
            if (name.EndsWith("_CX", StringComparison.Ordinal) || name.StartsWith("Jcxz", StringComparison.Ordinal)) sizes[(int)c] = 2;
            else if (name.EndsWith("_ECX", StringComparison.Ordinal) || name.StartsWith("Jecxz", StringComparison.Ordinal)) sizes[(int)c] = 4;
            else if (name.EndsWith("_RCX", StringComparison.Ordinal) || name.StartsWith("Jrcxz", StringComparison.Ordinal)) sizes[(int)c] = 8;
        }
        return sizes;
    }

    private static int OperandSizeOf(in Instruction i)
    {
        if (i.IsStringInstruction)
            return i.MemorySize.GetSize(); // OUTS names DX first; the element size is what matters
        for (int op = 0; op < i.OpCount; op++)
        {
            switch (i.GetOpKind(op))
            {
                case OpKind.Register:
                    Register r = i.GetOpRegister(op);
                    if (r.IsGPR())
                        return r.GetSize();
                    break;
                case OpKind.Memory:
                    int size = i.MemorySize.GetSize();
                    if (size is 1 or 2 or 4 or 8)
                        return size;
                    break;
                case OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemorySegRSI or OpKind.MemoryESDI or OpKind.MemoryESEDI or OpKind.MemoryESRDI:
                    return i.MemorySize.GetSize();
            }
        }
        return i.CodeSize == CodeSize.Code16 ? 2 : 4;
    }

    private static int AddressSizeOf(in Instruction i)
    {
        for (int op = 0; op < i.OpCount; op++)
        {
            switch (i.GetOpKind(op))
            {
                case OpKind.MemorySegSI or OpKind.MemoryESDI or OpKind.MemorySegDI:
                    return 2;
                case OpKind.MemorySegESI or OpKind.MemoryESEDI or OpKind.MemorySegEDI:
                    return 4;
                case OpKind.MemorySegRSI or OpKind.MemoryESRDI or OpKind.MemorySegRDI:
                    return 8;
                case OpKind.Memory:
                    Register b = i.MemoryBase != Register.None ? i.MemoryBase : i.MemoryIndex;
                    if (i.Code is Code.Xlat_m8)
                        b = i.MemoryBase;
                    if (b != Register.None && b.IsGPR())
                        return b.GetSize();
                    return i.MemoryDisplSize switch { 2 => 2, 8 => 8, 4 => 4, _ => i.CodeSize == CodeSize.Code16 ? 2 : 4 };
            }
        }
        int counterSize = s_counterAddressSize[(int)i.Code];
        return counterSize != 0 ? counterSize : i.CodeSize == CodeSize.Code16 ? 2 : 4;
    }
}
