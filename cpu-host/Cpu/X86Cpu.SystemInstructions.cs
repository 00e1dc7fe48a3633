using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// Processor control: HLT, CLI/STI, control and debug registers, descriptor-table registers, cache control.
public sealed partial class X86Cpu
{
    /// <summary>Debug registers DR0..DR7 (stored, no breakpoints implemented).</summary>
    private readonly ulong[] _debugRegisters = new ulong[8];

    /// <summary>True at CPL 0 (or in real mode); raises #GP(0) otherwise.</summary>
    private bool RequireCpl0()
    {
        if (!_state.ProtectedMode)
            return true;
        if (_state.Cpl == 0 && !_state.Virtual8086)
            return true;
        RaiseFault(ExceptionVector.GeneralProtection, 0);
        return false;
    }

    /// <summary>Instructions that do not exist in real and virtual-8086 mode raise #UD there.</summary>
    private bool RequireProtectedMode()
    {
        if (_state.ProtectedMode && !_state.Virtual8086)
            return true;
        RaiseFault(ExceptionVector.InvalidOpcode);
        return false;
    }

    private void ExecuteHlt()
    {
        if (!RequireCpl0())
            return;
        _state.Halted = true;
        _eventsPending = 1;
    }

    private void ExecuteCli()
    {
        if (_state.ProtectedMode && (_state.Virtual8086 ? Iopl < 3 : _state.Cpl > Iopl))
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        _state.Eflags &= ~EflagsBits.IF;
    }

    private void ExecuteSti()
    {
        if (_state.ProtectedMode && (_state.Virtual8086 ? Iopl < 3 : _state.Cpl > Iopl))
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        if ((_state.Eflags & EflagsBits.IF) == 0)
        {
            // Interrupts stay blocked until the instruction after STI has run.
            _interruptShadowUntil = _runExecuted + 2;
            _state.Eflags |= EflagsBits.IF;
            _eventsPending = 1;
        }
    }

    private void ExecuteMovToControl(Register register, ulong value)
    {
        if (!RequireCpl0())
            return;
        SerializeInstructionFetch();
        switch (register)
        {
            case Register.CR0:
            {
                value = (uint)value | ControlRegisters.Cr0Et;
                if ((value & ControlRegisters.Cr0Pg) != 0 && (value & ControlRegisters.Cr0Pe) == 0)
                {
                    RaiseFault(ExceptionVector.GeneralProtection, 0);
                    return;
                }
                ulong changed = _state.Cr0 ^ value;
                _state.Cr0 = value;
                if ((changed & (ControlRegisters.Cr0Pg | ControlRegisters.Cr0Wp | ControlRegisters.Cr0Pe)) != 0)
                    _tlb.Flush();
                if ((value & ControlRegisters.Cr0Pe) == 0)
                    _state.Cpl = 0;
                break;
            }
            case Register.CR2: _state.Cr2 = (uint)value; break;
            case Register.CR3: _state.Cr3 = (uint)value; FlushNonGlobalTranslations(); break;
            case Register.CR4: _state.Cr4 = (uint)value; _tlb.Flush(); break;
            default:
                if (register.IsDR())
                    _debugRegisters[register - Register.DR0] = (uint)value;
                else
                    RaiseFault(ExceptionVector.InvalidOpcode);
                break;
        }
    }

    private void ExecuteMovFromControl(Register destination, Register source)
    {
        if (!RequireCpl0())
            return;
        ulong value = source switch
        {
            Register.CR0 => _state.Cr0,
            Register.CR2 => _state.Cr2,
            Register.CR3 => _state.Cr3,
            Register.CR4 => _state.Cr4,
            _ => source.IsDR() ? _debugRegisters[source - Register.DR0] : 0,
        };
        if (!source.IsCR() && !source.IsDR())
        {
            RaiseFault(ExceptionVector.InvalidOpcode);
            return;
        }
        WriteRegister(destination, value);
    }

    private void ExecuteLoadDescriptorTable(ref DecodedInstruction d)
    {
        if (!RequireCpl0())
            return;
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        ulong limit = ReadSegment(seg, ea, 2);
        ulong baseAddress = ReadSegment(seg, (ea + 2) & AddressMask(d.AddressSize), 4);
        if (Faulted)
            return;
        if (d.Instruction.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16)
            baseAddress &= 0x00FF_FFFF; // 16-bit operand size loads a 24-bit base
        ref DescriptorTableRegister table = ref d.Instruction.Mnemonic == Mnemonic.Lgdt ? ref _state.Gdtr : ref _state.Idtr;
        table.Base = baseAddress;
        table.Limit = (ushort)limit;
    }

    private void ExecuteStoreDescriptorTable(ref DecodedInstruction d)
    {
        ref DescriptorTableRegister table = ref d.Instruction.Mnemonic == Mnemonic.Sgdt ? ref _state.Gdtr : ref _state.Idtr;
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        WriteSegment(seg, ea, 2, table.Limit);
        WriteSegment(seg, (ea + 2) & AddressMask(d.AddressSize), 4, (uint)table.Base);
    }

    /// <summary>SLDT, STR, SMSW: 16 bits to memory, zero-extended to a register.</summary>
    private void ExecuteStoreSystemSelector(ref DecodedInstruction d, ushort value)
    {
        if (d.Instruction.Mnemonic != Mnemonic.Smsw && !RequireProtectedMode())
            return;
        if (d.Instruction.Op0Kind == OpKind.Register)
        {
            ulong full = d.Instruction.Mnemonic == Mnemonic.Smsw && d.Instruction.Op0Register.GetSize() == 4 ? (uint)_state.Cr0 : value;
            WriteRegister(d.Instruction.Op0Register, full);
        }
        else
        {
            WriteSegment(MemorySegment(ref d), EffectiveAddress(ref d), 2, value);
        }
    }

    private void ExecuteLmsw(ref DecodedInstruction d)
    {
        if (!RequireCpl0())
            return;
        ulong value = ReadOperand(ref d, 0, 2);
        if (Faulted)
            return;
        // LMSW changes PE, MP, EM, TS and cannot clear PE.
        ulong newCr0 = (_state.Cr0 & ~0xEUL) | (value & 0xF);
        if ((newCr0 & ControlRegisters.Cr0Pe) != (_state.Cr0 & ControlRegisters.Cr0Pe))
            _tlb.Flush();
        _state.Cr0 = newCr0;
    }

    private void ExecuteClts()
    {
        if (RequireCpl0())
            _state.Cr0 &= ~ControlRegisters.Cr0Ts;
    }

    private void ExecuteInvlpg(ref DecodedInstruction d)
    {
        if (RequireCpl0())
            _tlb.FlushPage(LinearOf(MemorySegment(ref d), EffectiveAddress(ref d)));
    }

    private void ExecuteCacheControl() => RequireCpl0();

    private void ExecuteLldt(ref DecodedInstruction d)
    {
        if (!RequireProtectedMode() || !RequireCpl0())
            return;
        ushort selector = (ushort)ReadOperand(ref d, 0, 2);
        if (Faulted)
            return;
        if ((selector & 0xFFFC) == 0)
        {
            _state.Ldtr = new SegmentRegister { Selector = selector };
            return;
        }
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 4) != 0 || !TryReadDescriptor(selector, out Descriptor desc) || desc.IsCodeOrData || desc.Type != (int)SystemTypeLdt)
        {
            RaiseFault(ExceptionVector.GeneralProtection, error);
            return;
        }
        if (!desc.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, error);
            return;
        }
        _state.Ldtr = new SegmentRegister { Selector = selector, Base = desc.Base, Limit = desc.Limit, Attributes = desc.Attributes };
    }

    private void ExecuteLtr(ref DecodedInstruction d)
    {
        if (!RequireProtectedMode() || !RequireCpl0())
            return;
        ushort selector = (ushort)ReadOperand(ref d, 0, 2);
        if (Faulted)
            return;
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 0xFFFC) == 0 || (selector & 4) != 0)
        {
            RaiseFault(ExceptionVector.GeneralProtection, error);
            return;
        }
        if (!TryReadDescriptor(selector, out Descriptor desc))
            return;
        if (desc.IsCodeOrData || desc.Type is not ((int)SystemTypeAvailableTss16 or (int)SystemTypeAvailableTss32))
        {
            RaiseFault(ExceptionVector.GeneralProtection, error);
            return;
        }
        if (!desc.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, error);
            return;
        }
        // Mark the TSS busy in the GDT.
        WriteSystem(_state.Gdtr.Base + (uint)(selector & 0xFFF8) + 5, 1, (ulong)((byte)(desc.Raw >> 40) | 2));
        _state.Tr = new SegmentRegister { Selector = selector, Base = desc.Base, Limit = desc.Limit, Attributes = (ushort)(desc.Attributes | 2) };
    }

    private void ExecuteArpl(ref DecodedInstruction d)
    {
        if (!RequireProtectedMode())
            return;
        ulong destination = ReadDestination(ref d, 2, out ulong ea);
        ulong source = ReadRegister(d.Instruction.Op1Register);
        if (Faulted)
            return;
        bool adjust = (destination & 3) < (source & 3);
        if (adjust)
            WriteDestination(ref d, 2, (destination & ~3UL) | (source & 3), ea);
        SetFlag(EflagsBits.ZF, adjust);
    }

    /// <summary>LAR/LSL: ZF = 1 and the access rights or limit when the descriptor is visible at CPL and RPL.</summary>
    private void ExecuteLarLsl(ref DecodedInstruction d, int size, bool loadLimit)
    {
        if (!RequireProtectedMode())
            return;
        ushort selector = (ushort)ReadOperand(ref d, 1, 2);
        if (Faulted)
            return;
        bool ok = TryReadVisibleDescriptor(selector, out Descriptor desc);
        if (ok && !desc.IsCodeOrData)
        {
            int t = desc.Type;
            ok = loadLimit
                ? t is 1 or 2 or 3 or 9 or 11
                : t is 1 or 2 or 3 or 4 or 5 or 9 or 11 or 12;
        }
        SetFlag(EflagsBits.ZF, ok);
        if (!ok)
            return;
        ulong value = loadLimit ? desc.Limit : (desc.Raw >> 32) & (size == 2 ? 0xFF00UL : 0x00F0_FF00UL);
        WriteRegister(d.Instruction.Op0Register, value);
    }

    private void ExecuteVerify(ref DecodedInstruction d, bool write)
    {
        if (!RequireProtectedMode())
            return;
        ushort selector = (ushort)ReadOperand(ref d, 0, 2);
        if (Faulted)
            return;
        bool ok = TryReadVisibleDescriptor(selector, out Descriptor desc) && desc.IsCodeOrData
                  && (write ? desc.IsWritableData : (!desc.IsCode || desc.IsReadableCode));
        SetFlag(EflagsBits.ZF, ok);
    }

    /// <summary>Descriptor lookup for LAR/LSL/VERR/VERW: never faults; false when null, outside the table or not visible.</summary>
    private bool TryReadVisibleDescriptor(ushort selector, out Descriptor desc)
    {
        desc = default;
        if ((selector & 0xFFFC) == 0)
            return false;
        bool ldt = (selector & 4) != 0;
        ulong tableBase = ldt ? _state.Ldtr.Base : _state.Gdtr.Base;
        uint limit = ldt ? _state.Ldtr.Limit : _state.Gdtr.Limit;
        if ((ldt && (_state.Ldtr.Selector & 0xFFFC) == 0) || (uint)(selector & 0xFFF8) + 7 > limit)
            return false;
        desc = new Descriptor(ReadSystem(tableBase + (uint)(selector & 0xFFF8), 8));
        if (Faulted)
            return false;
        if (desc.IsConforming)
            return true;
        return desc.Dpl >= _state.Cpl && desc.Dpl >= (selector & 3);
    }
}
