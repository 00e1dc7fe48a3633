namespace SplitEmu.Tests.Cpu.Differential;

/// <summary>
/// Makes random user-level instructions whose memory operands fall in the data area or on the stack of a
/// <see cref="DifferentialMachine"/>. It sees the registers before each instruction, so it can pick displacements
/// that land where it wants, and it may first set registers or stack slots (in both CPUs) that the instruction
/// needs to stay in bounds: string pointers and counts, a POPF image without TF, a divisor that cannot overflow.
/// Every encoding is checked by Iced's decoder before it runs (see <see cref="DifferentialRunner"/>).
/// </summary>
internal sealed class InstructionGenerator
{
    /// <summary>Longest x86 instruction.</summary>
    public const int MaxLength = 15;

    private readonly Random _rng;
    private readonly byte[] _buffer = new byte[MaxLength + 8];
    private int _length;
    /// <summary>Where the instruction being made will run (relative branches are aimed from it).</summary>
    private uint _eip;

    public InstructionGenerator(Random rng) => _rng = rng;

    /// <summary>
    /// Writes one instruction into <paramref name="bytes"/> (returning its length) and adjusts
    /// <paramref name="machine"/>'s registers and memory first where the instruction needs it.
    /// Returns 0 when it produced nothing usable (the caller tries again).
    /// </summary>
    public int Next(DifferentialMachine machine, Span<byte> bytes, uint eip)
    {
        _length = 0;
        _eip = eip;
        Template t = Templates[_rng.Next(Templates.Length)];
        KeepStackInBounds(machine);

        bool wide = t.Width == 0;
        bool operandSize16 = wide && (t.Special & Special.NoOperandSizePrefix) == 0 && _rng.Next(4) == 0;
        bool addressSize16 = _rng.Next(6) == 0;
        int width = t.Width != 0 ? t.Width : operandSize16 ? 16 : 32;

        if ((t.Special & Special.String) != 0)
            return EmitString(machine, t, operandSize16, addressSize16, bytes);

        bool memory = t.Rm switch
        {
            RmKind.Memory => true,
            RmKind.Register => false,
            RmKind.Any => _rng.Next(2) == 0,
            _ => false,
        };
        if (t.Rm == RmKind.None && (t.Special & Special.AddressSizePrefix) == 0)
            addressSize16 = false;
        bool lockable = memory && (t.Special & Special.Lockable) != 0 && _rng.Next(8) == 0;

        if (lockable)
            Emit(0xF0);
        if (memory && _rng.Next(10) == 0)
            Emit(SegmentOverrides[_rng.Next(SegmentOverrides.Length)]);
        if (operandSize16)
            Emit(0x66);
        if ((memory || t.Rm == RmKind.None) && addressSize16)
            Emit(0x67);

        PrepareOperands(machine, t, width, memory);

        foreach (byte b in t.Opcode)
            Emit(b);
        if (t.RegisterInOpcode)
            _buffer[_length - 1] += (byte)_rng.Next(8);

        if (t.Rm != RmKind.None)
        {
            int reg = t.RegField >= 0 ? t.RegField : _rng.Next(8);
            if (memory)
            {
                int size = (t.Special & Special.NoAccess) != 0 ? 0 : (t.Special & Special.Qword) != 0 ? 8 : width / 8;
                uint target = PickTarget(size, machine);
                if ((t.Special & Special.BitOffsetInRegister) != 0)
                    target = AdjustForBitOffset(target, machine.Gpr[reg], width);
                if ((t.Special & Special.NoAccess) != 0)
                    target = RandomValue();
                int keep = (t.Special & Special.BitOffsetInRegister) != 0 ? reg : -1;
                EmitMemory(reg, target, addressSize16, machine, allowEspBase: (t.Special & Special.PopToMemory) == 0, keep);
            }
            else
            {
                Emit((byte)(0xC0 | (reg << 3) | _rng.Next(8)));
            }
        }

        EmitImmediate(t, width);
        _buffer.AsSpan(0, _length).CopyTo(bytes);
        return _length;
    }

    private void PrepareOperands(DifferentialMachine machine, Template t, int width, bool memory)
    {
        Special s = t.Special;
        if ((s & Special.ShiftByCl) != 0 && _rng.Next(2) == 0)
            machine.Gpr[1] = (machine.Gpr[1] & 0xFFFF_FF00) | ShiftCount(width);
        if ((s & Special.Divide) != 0 && _rng.Next(5) != 0)
        {
            bool signed = (s & Special.Signed) != 0;
            uint eax = machine.Gpr[0];
            switch (width)
            {
                case 8:
                    uint high8 = signed && (eax & 0x80) != 0 ? 0xFFu : 0;
                    machine.Gpr[0] = (eax & 0xFFFF_00FF) | (high8 << 8);
                    break;
                case 16:
                    uint high16 = signed && (eax & 0x8000) != 0 ? 0xFFFFu : 0;
                    machine.Gpr[2] = (machine.Gpr[2] & 0xFFFF_0000) | high16;
                    break;
                default:
                    machine.Gpr[2] = signed && (eax & 0x8000_0000) != 0 ? 0xFFFF_FFFF : 0;
                    break;
            }
        }
        if ((s & Special.Popf) != 0)
        {
            uint image = RandomValue() & ~(EflagsTf | 0x0002_0000u); // never single-step, never VM
            machine.WriteMemory32((uint)machine.Gpr[4], image);
        }
        if ((s & Special.Return) != 0)
        {
            uint returnAddress = DifferentialMachine.LandingBase + (uint)_rng.Next((int)DifferentialMachine.LandingSize);
            machine.WriteMemory32(machine.Gpr[4], returnAddress);
        }
        if ((s & Special.FramePointer) != 0)
            machine.Gpr[5] = DifferentialMachine.StackLow + 0x400 + (uint)_rng.Next(0x800);
        if ((s & Special.Xlat) != 0)
        {
            uint target = PickTarget(1, machine);
            machine.Gpr[3] = target - (machine.Gpr[0] & 0xFF);
        }
        _ = memory;
    }

    private int EmitString(DifferentialMachine machine, Template t, bool operandSize16, bool addressSize16, Span<byte> bytes)
    {
        int rep = _rng.Next(3); // none, F3, F2
        if (rep == 1)
            Emit(0xF3);
        else if (rep == 2)
            Emit(0xF2);
        if (_rng.Next(8) == 0)
            Emit(SegmentOverrides[_rng.Next(SegmentOverrides.Length)]);
        if (operandSize16)
            Emit(0x66);
        if (addressSize16)
            Emit(0x67);
        Emit(t.Opcode[0]);

        const uint margin = 0x100;
        uint esi = DifferentialMachine.DataBase + margin + (uint)_rng.Next((int)(DifferentialMachine.DataSize - 2 * margin));
        uint edi = DifferentialMachine.DataBase + margin + (uint)_rng.Next((int)(DifferentialMachine.DataSize - 2 * margin));
        uint count = _rng.Next(4) == 0 ? 0u : (uint)_rng.Next(1, 40);
        if (addressSize16)
        {
            machine.Gpr[6] = (RandomValue() & 0xFFFF_0000) | esi;
            machine.Gpr[7] = (RandomValue() & 0xFFFF_0000) | edi;
            machine.Gpr[1] = (RandomValue() & 0xFFFF_0000) | count;
        }
        else
        {
            machine.Gpr[6] = esi;
            machine.Gpr[7] = edi;
            machine.Gpr[1] = count;
        }
        _buffer.AsSpan(0, _length).CopyTo(bytes);
        return _length;
    }

    private void EmitImmediate(Template t, int width)
    {
        switch (t.Immediate)
        {
            case ImmKind.Byte:
                Emit((t.Special & (Special.ShiftImmediate)) != 0 ? (byte)ShiftCount(width)
                    : (t.Special & Special.NonZeroImmediate) != 0 ? (byte)_rng.Next(1, 256)
                    : (byte)RandomValue());
                break;
            case ImmKind.Word:
                EmitWord((ushort)RandomValue());
                break;
            case ImmKind.Full:
                uint value = RandomValue();
                if (width == 16)
                    EmitWord((ushort)value);
                else
                    EmitDword(value);
                break;
            case ImmKind.Relative8:
            {
                // Into this slot's NOP padding (every branch target must be known code, see LandingBase).
                uint next = _eip + (uint)_length + 1;
                uint slotEnd = _eip + DifferentialMachine.CodeSlotSize - 2; // before the slot's closing JMP $
                Emit((byte)_rng.Next(0, (int)(slotEnd - next)));
                break;
            }
            case ImmKind.Relative:
            {
                int size = width == 16 ? 2 : 4;
                uint next = _eip + (uint)(_length + size);
                uint target = _rng.Next(2) == 0 && width == 32
                    ? next + (uint)_rng.Next(0, (int)(_eip + DifferentialMachine.CodeSlotSize - 2 - next))
                    : DifferentialMachine.LandingBase + (uint)_rng.Next((int)DifferentialMachine.LandingSize);
                if (width == 16)
                    EmitWord((ushort)(target - next));
                else
                    EmitDword(target - next);
                break;
            }
            case ImmKind.Enter:
                EmitWord((ushort)_rng.Next(0, 0x80));
                Emit((byte)(_rng.Next(4) == 0 ? _rng.Next(0, 256) : _rng.Next(0, 4)));
                break;
        }
    }

    /// <summary>A shift count biased to the edges: 0, 1, width - 1, width, width + 1, 31, 32 and beyond (masked by the CPU).</summary>
    private uint ShiftCount(int width) => _rng.Next(9) switch
    {
        0 => 0,
        1 => 1,
        2 => (uint)width - 1,
        3 => (uint)width,
        4 => (uint)width + 1,
        5 => 31,
        6 => 32,
        7 => (uint)_rng.Next(0, 64),
        _ => (uint)_rng.Next(0, 256),
    };

    /// <summary>A value biased towards the edges where flags change.</summary>
    public uint RandomValue()
    {
        int kind = _rng.Next(8);
        if (kind < 4)
            return (uint)_rng.NextInt64(0, 1L << 32);
        if (kind < 6)
            return Edges[_rng.Next(Edges.Length)];
        if (kind == 6)
            return (uint)_rng.Next(0, 256);
        return Edges[_rng.Next(Edges.Length)] ^ (1u << _rng.Next(32));
    }

    private static readonly uint[] Edges =
    [
        0, 1, 2, 7, 9, 0x0F, 0x10, 0x7F, 0x80, 0x81, 0xFF, 0x100, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1_0000,
        0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFF, 0xFFFF_FFFE, 0xFFFF_FF80, 0xFFFF_8000, 0x99, 0x9999,
    ];

    /// <summary>An address for an access of <paramref name="size"/> bytes, sometimes straddling the middle page boundary.</summary>
    private uint PickTarget(int size, DifferentialMachine machine)
    {
        const int margin = 8;
        _ = machine;
        if (_rng.Next(8) == 0)
            return DifferentialMachine.DataBase + 0x1000 - (uint)_rng.Next(0, Math.Max(size, 1) + 1);
        return DifferentialMachine.DataBase + (uint)_rng.Next(0, (int)DifferentialMachine.DataSize - size - margin);
    }

    /// <summary>
    /// BT/BTS/BTR/BTC with a register bit offset address (operand size) units away from the effective address:
    /// returns the effective address that makes the accessed unit <paramref name="target"/>.
    /// </summary>
    private static uint AdjustForBitOffset(uint target, uint offsetRegister, int width)
    {
        int offset = width == 16 ? (short)offsetRegister : (int)offsetRegister;
        long units = width == 16 ? offset >> 4 : offset >> 5;
        return (uint)(target - units * (width / 8));
    }

    /// <summary>Emits a memory operand for register <paramref name="reg"/> that addresses <paramref name="target"/>.</summary>
    /// <param name="reg">The ModRM reg field of the instruction the operand belongs to.</param>
    /// <param name="target">The address the operand must reach.</param>
    /// <param name="addressSize16">Whether the instruction uses 16-bit addressing.</param>
    /// <param name="machine">The machine whose registers the address is built from.</param>
    /// <param name="allowEspBase">Whether ESP may be the base register.</param>
    /// <param name="keepRegister">A register whose value the target already depends on (never made a pointer), or -1.</param>
    private void EmitMemory(int reg, uint target, bool addressSize16, DifferentialMachine machine, bool allowEspBase, int keepRegister)
    {
        if (addressSize16)
        {
            EmitMemory16(reg, target, machine);
            return;
        }
        int form = _rng.Next(4);
        if (form == 0)
        {
            Emit((byte)((reg << 3) | 5));
            EmitDword(target);
            return;
        }
        bool sib = form >= 2 || _rng.Next(4) == 0;
        int baseReg = _rng.Next(8);
        if (!allowEspBase && baseReg == 4)
            baseReg = 3;
        if (form < 3 && _rng.Next(3) == 0 && baseReg != 4 && baseReg != keepRegister)
            machine.Gpr[baseReg] = target - (uint)_rng.Next(-100, 100); // a pointer: short displacements
        if (!sib && baseReg == 4)
            sib = true;
        if (!sib)
        {
            EmitWithDisplacement(reg, rm: baseReg, sibByte: -1, target - machine.Gpr[baseReg], baseReg == 5);
            return;
        }
        int index = _rng.Next(8);
        int scale = _rng.Next(4);
        uint indexValue = index == 4 ? 0 : machine.Gpr[index] << scale;
        if (form == 3)
        {
            // No base: mod 00, base 101, disp32.
            Emit((byte)((reg << 3) | 4));
            Emit((byte)((scale << 6) | (index << 3) | 5));
            EmitDword(target - indexValue);
            return;
        }
        uint sum = machine.Gpr[baseReg] + indexValue;
        EmitWithDisplacement(reg, rm: 4, sibByte: (scale << 6) | (index << 3) | baseReg, target - sum, baseReg == 5);
    }

    private void EmitWithDisplacement(int reg, int rm, int sibByte, uint displacement, bool baseIsEbp)
    {
        int mod;
        if (displacement == 0 && !baseIsEbp && _rng.Next(2) == 0)
            mod = 0;
        else if ((int)displacement >= -128 && (int)displacement <= 127 && _rng.Next(4) != 0)
            mod = 1;
        else
            mod = 2;
        Emit((byte)((mod << 6) | (reg << 3) | rm));
        if (sibByte >= 0)
            Emit((byte)sibByte);
        if (mod == 1)
            Emit((byte)displacement);
        else if (mod == 2)
            EmitDword(displacement);
    }

    private void EmitMemory16(int reg, uint target, DifferentialMachine machine)
    {
        int rm = _rng.Next(9);
        if (rm == 8)
        {
            Emit((byte)((reg << 3) | 6));
            EmitWord((ushort)target);
            return;
        }
        uint bx = machine.Gpr[3] & 0xFFFF, bp = machine.Gpr[5] & 0xFFFF, si = machine.Gpr[6] & 0xFFFF, di = machine.Gpr[7] & 0xFFFF;
        uint sum = rm switch
        {
            0 => bx + si,
            1 => bx + di,
            2 => bp + si,
            3 => bp + di,
            4 => si,
            5 => di,
            6 => bp,
            _ => bx,
        };
        ushort displacement = (ushort)(target - sum);
        int mod;
        if (displacement == 0 && rm != 6)
            mod = 0;
        else if ((short)displacement >= -128 && (short)displacement <= 127)
            mod = 1;
        else
            mod = 2;
        Emit((byte)((mod << 6) | (reg << 3) | rm));
        if (mod == 1)
            Emit((byte)displacement);
        else if (mod == 2)
            EmitWord(displacement);
    }

    private void KeepStackInBounds(DifferentialMachine machine)
    {
        uint esp = machine.Gpr[4];
        if (esp < DifferentialMachine.StackLow + 0x100 || esp > DifferentialMachine.StackHigh - 0x100)
            machine.Gpr[4] = DifferentialMachine.StackLow + 0x400 + (uint)_rng.Next(0x800);
    }

    private void Emit(byte b) => _buffer[_length++] = b;

    private void EmitWord(ushort w)
    {
        Emit((byte)w);
        Emit((byte)(w >> 8));
    }

    private void EmitDword(uint d)
    {
        EmitWord((ushort)d);
        EmitWord((ushort)(d >> 16));
    }

    private const uint EflagsTf = 1 << 8;

    private static readonly byte[] SegmentOverrides = [0x26, 0x36, 0x3E, 0x64, 0x65];

    private enum RmKind { None, Any, Register, Memory }

    private enum ImmKind { None, Byte, Word, Full, Enter, Relative8, Relative }

    [Flags]
    private enum Special
    {
        None = 0,
        String = 1 << 0,
        ShiftByCl = 1 << 1,
        ShiftImmediate = 1 << 2,
        Divide = 1 << 3,
        Signed = 1 << 4,
        Popf = 1 << 5,
        FramePointer = 1 << 6,
        Xlat = 1 << 7,
        NoOperandSizePrefix = 1 << 8,
        Lockable = 1 << 9,
        BitOffsetInRegister = 1 << 10,
        NoAccess = 1 << 11,
        Qword = 1 << 12,
        PopToMemory = 1 << 13,
        NonZeroImmediate = 1 << 14,
        /// <summary>67h changes the instruction (LOOP/JCXZ count with CX).</summary>
        AddressSizePrefix = 1 << 15,
        /// <summary>RET: the stack holds a return address into the code area first.</summary>
        Return = 1 << 16,
    }

    /// <summary>One instruction form. Width 0: 16 or 32 bits by the operand-size prefix; 8: byte form.</summary>
    private sealed record Template(byte[] Opcode, RmKind Rm, int RegField, ImmKind Immediate, int Width,
        Special Special = Special.None, bool RegisterInOpcode = false);

    private static readonly Template[] Templates = BuildTemplates();

    private static Template[] BuildTemplates()
    {
        var list = new List<Template>();
        void Add(Template t, int weight = 1)
        {
            for (int i = 0; i < weight; i++)
                list.Add(t);
        }

        // ADD OR ADC SBB AND SUB XOR CMP in all six classic forms, and the 80/81/83 immediate groups.
        for (int op = 0; op < 8; op++)
        {
            byte b = (byte)(op * 8);
            Special lockable = op == 7 ? Special.None : Special.Lockable;
            Add(new Template([b], RmKind.Any, -1, ImmKind.None, 8, lockable));
            Add(new Template([(byte)(b + 1)], RmKind.Any, -1, ImmKind.None, 0, lockable));
            Add(new Template([(byte)(b + 2)], RmKind.Any, -1, ImmKind.None, 8));
            Add(new Template([(byte)(b + 3)], RmKind.Any, -1, ImmKind.None, 0));
            Add(new Template([(byte)(b + 4)], RmKind.None, -1, ImmKind.Byte, 8));
            Add(new Template([(byte)(b + 5)], RmKind.None, -1, ImmKind.Full, 0));
            Add(new Template([0x80], RmKind.Any, op, ImmKind.Byte, 8, lockable));
            Add(new Template([0x81], RmKind.Any, op, ImmKind.Full, 0, lockable));
            Add(new Template([0x83], RmKind.Any, op, ImmKind.Byte, 0, lockable));
        }
        Add(new Template([0x40], RmKind.None, -1, ImmKind.None, 0, RegisterInOpcode: true), 2); // INC r
        Add(new Template([0x48], RmKind.None, -1, ImmKind.None, 0, RegisterInOpcode: true), 2); // DEC r
        Add(new Template([0xFE], RmKind.Any, 0, ImmKind.None, 8, Special.Lockable));
        Add(new Template([0xFE], RmKind.Any, 1, ImmKind.None, 8, Special.Lockable));
        Add(new Template([0xFF], RmKind.Any, 0, ImmKind.None, 0, Special.Lockable));
        Add(new Template([0xFF], RmKind.Any, 1, ImmKind.None, 0, Special.Lockable));
        Add(new Template([0x84], RmKind.Any, -1, ImmKind.None, 8));
        Add(new Template([0x85], RmKind.Any, -1, ImmKind.None, 0));
        Add(new Template([0xA8], RmKind.None, -1, ImmKind.Byte, 8));
        Add(new Template([0xA9], RmKind.None, -1, ImmKind.Full, 0));
        Add(new Template([0xF6], RmKind.Any, 0, ImmKind.Byte, 8));
        Add(new Template([0xF7], RmKind.Any, 0, ImmKind.Full, 0));
        Add(new Template([0xF6], RmKind.Any, 2, ImmKind.None, 8, Special.Lockable)); // NOT
        Add(new Template([0xF7], RmKind.Any, 2, ImmKind.None, 0, Special.Lockable));
        Add(new Template([0xF6], RmKind.Any, 3, ImmKind.None, 8, Special.Lockable)); // NEG
        Add(new Template([0xF7], RmKind.Any, 3, ImmKind.None, 0, Special.Lockable));

        // Multiply and divide.
        Add(new Template([0xF6], RmKind.Any, 4, ImmKind.None, 8), 2);
        Add(new Template([0xF7], RmKind.Any, 4, ImmKind.None, 0), 2);
        Add(new Template([0xF6], RmKind.Any, 5, ImmKind.None, 8), 2);
        Add(new Template([0xF7], RmKind.Any, 5, ImmKind.None, 0), 2);
        Add(new Template([0xF6], RmKind.Any, 6, ImmKind.None, 8, Special.Divide), 2);
        Add(new Template([0xF7], RmKind.Any, 6, ImmKind.None, 0, Special.Divide), 2);
        Add(new Template([0xF6], RmKind.Any, 7, ImmKind.None, 8, Special.Divide | Special.Signed), 2);
        Add(new Template([0xF7], RmKind.Any, 7, ImmKind.None, 0, Special.Divide | Special.Signed), 2);
        Add(new Template([0x0F, 0xAF], RmKind.Any, -1, ImmKind.None, 0), 2);
        Add(new Template([0x69], RmKind.Any, -1, ImmKind.Full, 0), 2);
        Add(new Template([0x6B], RmKind.Any, -1, ImmKind.Byte, 0), 2);

        // Shifts and rotates: ROL ROR RCL RCR SHL SHR SAL(/6) SAR by 1, CL and imm8; SHLD/SHRD.
        for (int op = 0; op < 8; op++)
        {
            Add(new Template([0xD0], RmKind.Any, op, ImmKind.None, 8));
            Add(new Template([0xD1], RmKind.Any, op, ImmKind.None, 0));
            Add(new Template([0xD2], RmKind.Any, op, ImmKind.None, 8, Special.ShiftByCl), 2);
            Add(new Template([0xD3], RmKind.Any, op, ImmKind.None, 0, Special.ShiftByCl), 2);
            Add(new Template([0xC0], RmKind.Any, op, ImmKind.Byte, 8, Special.ShiftImmediate), 2);
            Add(new Template([0xC1], RmKind.Any, op, ImmKind.Byte, 0, Special.ShiftImmediate), 2);
        }
        Add(new Template([0x0F, 0xA4], RmKind.Any, -1, ImmKind.Byte, 0, Special.ShiftImmediate), 2);
        Add(new Template([0x0F, 0xA5], RmKind.Any, -1, ImmKind.None, 0, Special.ShiftByCl), 2);
        Add(new Template([0x0F, 0xAC], RmKind.Any, -1, ImmKind.Byte, 0, Special.ShiftImmediate), 2);
        Add(new Template([0x0F, 0xAD], RmKind.Any, -1, ImmKind.None, 0, Special.ShiftByCl), 2);

        // Bit tests and scans.
        Add(new Template([0x0F, 0xA3], RmKind.Any, -1, ImmKind.None, 0, Special.BitOffsetInRegister), 2);
        Add(new Template([0x0F, 0xAB], RmKind.Any, -1, ImmKind.None, 0, Special.BitOffsetInRegister | Special.Lockable), 2);
        Add(new Template([0x0F, 0xB3], RmKind.Any, -1, ImmKind.None, 0, Special.BitOffsetInRegister | Special.Lockable), 2);
        Add(new Template([0x0F, 0xBB], RmKind.Any, -1, ImmKind.None, 0, Special.BitOffsetInRegister | Special.Lockable), 2);
        for (int op = 4; op < 8; op++)
            Add(new Template([0x0F, 0xBA], RmKind.Any, op, ImmKind.Byte, 0, op == 4 ? Special.None : Special.Lockable), 2);
        Add(new Template([0x0F, 0xBC], RmKind.Any, -1, ImmKind.None, 0), 3);
        Add(new Template([0x0F, 0xBD], RmKind.Any, -1, ImmKind.None, 0), 3);

        // SETcc, CMOVcc.
        for (int cc = 0; cc < 16; cc++)
        {
            Add(new Template([0x0F, (byte)(0x90 + cc)], RmKind.Any, 0, ImmKind.None, 8));
            Add(new Template([0x0F, (byte)(0x40 + cc)], RmKind.Any, -1, ImmKind.None, 0));
        }

        // Exchanges and moves.
        Add(new Template([0x86], RmKind.Any, -1, ImmKind.None, 8));
        Add(new Template([0x87], RmKind.Any, -1, ImmKind.None, 0));
        Add(new Template([0x90], RmKind.None, -1, ImmKind.None, 0, RegisterInOpcode: true));
        Add(new Template([0x0F, 0xC0], RmKind.Any, -1, ImmKind.None, 8, Special.Lockable), 2);
        Add(new Template([0x0F, 0xC1], RmKind.Any, -1, ImmKind.None, 0, Special.Lockable), 2);
        Add(new Template([0x0F, 0xB0], RmKind.Any, -1, ImmKind.None, 8, Special.Lockable), 2);
        Add(new Template([0x0F, 0xB1], RmKind.Any, -1, ImmKind.None, 0, Special.Lockable), 2);
        Add(new Template([0x0F, 0xC7], RmKind.Memory, 1, ImmKind.None, 0, Special.Qword | Special.Lockable | Special.NoOperandSizePrefix), 2);
        Add(new Template([0x88], RmKind.Any, -1, ImmKind.None, 8));
        Add(new Template([0x89], RmKind.Any, -1, ImmKind.None, 0));
        Add(new Template([0x8A], RmKind.Any, -1, ImmKind.None, 8));
        Add(new Template([0x8B], RmKind.Any, -1, ImmKind.None, 0));
        Add(new Template([0xC6], RmKind.Any, 0, ImmKind.Byte, 8));
        Add(new Template([0xC7], RmKind.Any, 0, ImmKind.Full, 0));
        Add(new Template([0xB0], RmKind.None, -1, ImmKind.Byte, 8, RegisterInOpcode: true));
        Add(new Template([0xB8], RmKind.None, -1, ImmKind.Full, 0, RegisterInOpcode: true));
        Add(new Template([0x0F, 0xB6], RmKind.Any, -1, ImmKind.None, 0), 2);
        Add(new Template([0x0F, 0xB7], RmKind.Any, -1, ImmKind.None, 0, Special.None), 2);
        Add(new Template([0x0F, 0xBE], RmKind.Any, -1, ImmKind.None, 0), 2);
        Add(new Template([0x0F, 0xBF], RmKind.Any, -1, ImmKind.None, 0), 2);
        Add(new Template([0x8D], RmKind.Memory, -1, ImmKind.None, 0, Special.NoAccess), 4);
        Add(new Template([0x0F, 0xC8], RmKind.None, -1, ImmKind.None, 0, Special.NoOperandSizePrefix, RegisterInOpcode: true), 2);
        Add(new Template([0xD7], RmKind.None, -1, ImmKind.None, 8, Special.Xlat));
        Add(new Template([0x98], RmKind.None, -1, ImmKind.None, 0), 2);
        Add(new Template([0x99], RmKind.None, -1, ImmKind.None, 0), 2);

        // Stack.
        Add(new Template([0x50], RmKind.None, -1, ImmKind.None, 0, RegisterInOpcode: true), 2);
        Add(new Template([0x58], RmKind.None, -1, ImmKind.None, 0, RegisterInOpcode: true), 2);
        Add(new Template([0x68], RmKind.None, -1, ImmKind.Full, 0));
        Add(new Template([0x6A], RmKind.None, -1, ImmKind.Byte, 0));
        Add(new Template([0xFF], RmKind.Memory, 6, ImmKind.None, 0));
        Add(new Template([0x8F], RmKind.Any, 0, ImmKind.None, 0, Special.PopToMemory));
        Add(new Template([0x60], RmKind.None, -1, ImmKind.None, 0));
        Add(new Template([0x61], RmKind.None, -1, ImmKind.None, 0));
        Add(new Template([0x9C], RmKind.None, -1, ImmKind.None, 0));
        Add(new Template([0x9D], RmKind.None, -1, ImmKind.None, 0, Special.Popf), 2);
        Add(new Template([0xC8], RmKind.None, -1, ImmKind.Enter, 0, Special.FramePointer));
        Add(new Template([0xC9], RmKind.None, -1, ImmKind.None, 0, Special.FramePointer));

        // Control transfers (relative targets stay in mapped memory; only EIP and the stack are compared).
        for (int cc = 0; cc < 16; cc++)
        {
            Add(new Template([(byte)(0x70 + cc)], RmKind.None, -1, ImmKind.Relative8, 0, Special.NoOperandSizePrefix));
            Add(new Template([0x0F, (byte)(0x80 + cc)], RmKind.None, -1, ImmKind.Relative, 0));
        }
        foreach (byte op in new byte[] { 0xE0, 0xE1, 0xE2, 0xE3 })
            Add(new Template([op], RmKind.None, -1, ImmKind.Relative8, 0, Special.AddressSizePrefix | Special.NoOperandSizePrefix), 2);
        Add(new Template([0xEB], RmKind.None, -1, ImmKind.Relative8, 0, Special.NoOperandSizePrefix));
        Add(new Template([0xE9], RmKind.None, -1, ImmKind.Relative, 0));
        Add(new Template([0xE8], RmKind.None, -1, ImmKind.Relative, 0), 2);
        Add(new Template([0xC3], RmKind.None, -1, ImmKind.None, 0, Special.Return), 2);
        Add(new Template([0xC2], RmKind.None, -1, ImmKind.Word, 0, Special.Return), 2);

        // Strings, with and without REP (the string path picks prefixes and pointers).
        foreach (byte op in new byte[] { 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF })
            Add(new Template([op], RmKind.None, -1, ImmKind.None, (op & 1) == 0 ? 8 : 0, Special.String), 2);

        // BCD and ASCII adjust.
        foreach (byte op in new byte[] { 0x27, 0x2F, 0x37, 0x3F })
            Add(new Template([op], RmKind.None, -1, ImmKind.None, 8), 3);
        Add(new Template([0xD4], RmKind.None, -1, ImmKind.Byte, 8), 3); // AAM (imm 0 raises #DE)
        Add(new Template([0xD5], RmKind.None, -1, ImmKind.Byte, 8), 3); // AAD

        // Flags.
        foreach (byte op in new byte[] { 0xF5, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0x9E, 0x9F })
            Add(new Template([op], RmKind.None, -1, ImmKind.None, 8));

        return list.ToArray();
    }
}
