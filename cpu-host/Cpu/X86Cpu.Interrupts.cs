using System.Runtime.CompilerServices;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>What raised an interrupt: decides the pushed return address, the DPL check and the EXT bit.</summary>
internal enum SoftwareInterruptKind : byte { IntN, Int3, Into, Int1 }

// Exception and interrupt delivery through the real-mode IVT or the protected-mode IDT, with #DF and shutdown.
public sealed partial class X86Cpu
{
    /// <summary>Delivers the fault the current instruction raised; the instruction is restarted after the handler returns.</summary>
    private void DeliverPendingFault()
    {
        int vector = _faultVector;
        bool hasError = _faultHasErrorCode;
        uint error = _faultErrorCode;
        _faultVector = -1;
        _state.Rip = _instructionIp;
        DeliverException(vector, hasError, error, external: false);
    }

    private void DeliverExternalInterrupt(byte vector)
    {
        if (!DeliverInterruptCore(vector, software: false, hasErrorCode: false, errorCode: 0, returnIp: _state.Rip, external: true))
            HandleFaultDuringDelivery(first: -1);
    }

    /// <summary>Delivers an exception; a fault while delivering it escalates to #DF, and a fault during #DF shuts down.</summary>
    private void DeliverException(int vector, bool hasErrorCode, uint errorCode, bool external)
    {
        if (DeliverInterruptCore(vector, software: false, hasErrorCode, errorCode, _state.Rip, external))
            return;
        HandleFaultDuringDelivery(vector);
    }

    private void HandleFaultDuringDelivery(int first)
    {
        int second = _faultVector;
        bool hasError = _faultHasErrorCode;
        uint error = _faultErrorCode;
        _faultVector = -1;
        if (first == ExceptionVector.DoubleFault)
        {
            Shutdown();
            return;
        }
        bool escalate = (IsContributory(first) && IsContributory(second))
                        || (first == ExceptionVector.PageFault && (second == ExceptionVector.PageFault || IsContributory(second)));
        if (escalate)
            DeliverException(ExceptionVector.DoubleFault, hasErrorCode: true, errorCode: 0, external: true);
        else
            DeliverException(second, hasError, error, external: true);
    }

    private static bool IsContributory(int vector) => vector is ExceptionVector.DivideError or ExceptionVector.InvalidTss
        or ExceptionVector.SegmentNotPresent or ExceptionVector.StackFault or ExceptionVector.GeneralProtection;

    /// <summary>Triple fault: the CPU stops until reset.</summary>
    private void Shutdown()
    {
        _shutdown = true;
        _state.Halted = true;
        _eventsPending = 1; // Run notices at the next boundary
    }

    /// <summary>
    /// #DB after an instruction that started with TF set (DR6.BS records why). Software interrupts are
    /// exempt: they clear TF on the way into their handler.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SingleStepTrap(ref DecodedInstruction d)
    {
        const ulong dr6SingleStep = 1 << 14;
        if (d.Instruction.Mnemonic is Iced.Intel.Mnemonic.Int or Iced.Intel.Mnemonic.Int3 or Iced.Intel.Mnemonic.Into or Iced.Intel.Mnemonic.Int1)
            return;
        _debugRegisters[6] |= dr6SingleStep;
        _state.Halted = false; // HLT traps too: the handler runs instead of the halt
        DeliverException(ExceptionVector.Debug, hasErrorCode: false, errorCode: 0, external: false);
    }

    /// <summary>INT n, INT3, INTO, INT1: traps, so the handler returns to the next instruction.</summary>
    private void ExecuteSoftwareInterrupt(int vector, SoftwareInterruptKind kind)
    {
        if (_state.Virtual8086 && Iopl < 3 && kind == SoftwareInterruptKind.IntN)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        if (DeliverInterruptCore(vector, software: kind != SoftwareInterruptKind.Int1, hasErrorCode: false, errorCode: 0, returnIp: _nextIp, external: false))
            _nextIp = _state.Rip;
    }

    private void ExecuteBound(ref DecodedInstruction d, int size)
    {
        long index = SignExtend(ReadRegister(d.Instruction.Op0Register), size);
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        long lower = SignExtend(ReadSegment(seg, ea, size), size);
        long upper = SignExtend(ReadSegment(seg, (ea + (ulong)size) & AddressMask(d.AddressSize), size), size);
        if (Faulted)
            return;
        if (index < lower || index > upper)
            RaiseFault(ExceptionVector.BoundRange);
    }

    /// <summary>
    /// Transfers control to the handler for <paramref name="vector"/>. On failure leaves the fault in
    /// <see cref="_faultVector"/> and the architectural state unchanged (stack memory below SP aside).
    /// </summary>
    private bool DeliverInterruptCore(int vector, bool software, bool hasErrorCode, uint errorCode, ulong returnIp, bool external)
    {
        MaterializeFlags();
        uint flags = _state.Eflags;
        uint ext = external ? 1u : 0u;

        if (!_state.ProtectedMode)
        {
            if ((uint)vector * 4 + 3 > _state.Idtr.Limit)
            {
                RaiseFault(ExceptionVector.GeneralProtection, (uint)vector * 8 + 2 + ext);
                return false;
            }
            uint entry = (uint)ReadSystem(_state.Idtr.Base + (ulong)vector * 4, 4);
            ulong sp = StackPointer;
            ulong mask = StackMask;
            WriteSegment(SegmentIndex.SS, (sp - 2) & mask, 2, flags);
            WriteSegment(SegmentIndex.SS, (sp - 4) & mask, 2, _state.Segments[SegmentIndex.CS].Selector);
            WriteSegment(SegmentIndex.SS, (sp - 6) & mask, 2, returnIp);
            if (Faulted)
                return false;
            SetStackPointer(sp - 6);
            LoadRealModeCode((ushort)(entry >> 16));
            _state.Rip = entry & 0xFFFF;
            _state.Eflags = flags & ~(EflagsBits.IF | EflagsBits.TF | EflagsBits.AC);
            return true;
        }

        uint idtError = (uint)vector * 8 + 2 + ext;
        if ((uint)vector * 8 + 7 > _state.Idtr.Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, idtError);
            return false;
        }
        var gate = new Descriptor(ReadSystem(_state.Idtr.Base + (ulong)vector * 8, 8));
        if (Faulted)
            return false;
        int type = gate.Type;
        bool validType = !gate.IsCodeOrData && type is (int)SystemTypeInterruptGate16 or (int)SystemTypeTrapGate16
            or (int)SystemTypeInterruptGate32 or (int)SystemTypeTrapGate32 or (int)SystemTypeTaskGate;
        if (!validType || (software && gate.Dpl < _state.Cpl))
        {
            RaiseFault(ExceptionVector.GeneralProtection, idtError);
            return false;
        }
        if (!gate.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, idtError);
            return false;
        }
        if (type == (int)SystemTypeTaskGate)
            return SwitchTaskThrough(0, gate, TaskSwitchSource.Interrupt, returnIp, hasErrorCode, errorCode);

        ushort selector = gate.GateSelector;
        if ((selector & 0xFFFC) == 0)
        {
            RaiseFault(ExceptionVector.GeneralProtection, ext);
            return false;
        }
        if (!TryReadDescriptor(selector, out Descriptor code))
            return false;
        uint selectorError = (uint)(selector & 0xFFFC) + ext;
        if (!code.IsCode || code.Dpl > _state.Cpl)
        {
            RaiseFault(ExceptionVector.GeneralProtection, selectorError);
            return false;
        }
        if (!code.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, selectorError);
            return false;
        }

        int gateSize = type >= 8 ? 4 : 2;
        ulong offset = gateSize == 4 ? gate.GateOffset : gate.GateOffset & 0xFFFF;
        if (offset > code.Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, ext);
            return false;
        }
        bool interruptGate = type is (int)SystemTypeInterruptGate16 or (int)SystemTypeInterruptGate32;
        int newCpl = code.IsConforming ? _state.Cpl : code.Dpl;
        ushort oldCs = _state.Segments[SegmentIndex.CS].Selector;

        if (newCpl < _state.Cpl)
        {
            // Inner privilege: switch to the stack the TSS gives for the new level.
            if (!TryReadTssStack(newCpl, out ushort newSs, out ulong newSp, ext))
                return false;
            if (!TryValidateStackSegment(newSs, newCpl, ExceptionVector.InvalidTss, ext, out Descriptor ssDesc))
                return false;
            SegmentRegister newStack = SegmentFromDescriptor(newSs, ssDesc);
            ulong ssMask = newStack.Big ? 0xFFFF_FFFFUL : 0xFFFFUL;
            ulong sp = newSp & ssMask;
            Span<ulong> frame = stackalloc ulong[10];
            int n = 0;
            if (_state.Virtual8086)
            {
                frame[n++] = _state.Segments[SegmentIndex.GS].Selector;
                frame[n++] = _state.Segments[SegmentIndex.FS].Selector;
                frame[n++] = _state.Segments[SegmentIndex.DS].Selector;
                frame[n++] = _state.Segments[SegmentIndex.ES].Selector;
            }
            frame[n++] = _state.Segments[SegmentIndex.SS].Selector;
            frame[n++] = _state.Gpr[Gpr.Rsp];
            frame[n++] = flags;
            frame[n++] = oldCs;
            frame[n++] = returnIp;
            if (hasErrorCode)
                frame[n++] = errorCode;
            for (int k = 0; k < n; k++)
            {
                sp = (sp - (ulong)gateSize) & ssMask;
                WriteLinear((newStack.Base + sp) & 0xFFFF_FFFFUL, gateSize, frame[k], user: false);
                if (Faulted)
                    return false;
            }
            if (_state.Virtual8086)
            {
                for (int s = 0; s < 6; s++)
                {
                    if (s is SegmentIndex.ES or SegmentIndex.DS or SegmentIndex.FS or SegmentIndex.GS)
                        _state.Segments[s] = new SegmentRegister { Selector = 0 };
                }
            }
            _state.Segments[SegmentIndex.SS] = newStack;
            _state.Gpr[Gpr.Rsp] = newStack.Big ? sp : (_state.Gpr[Gpr.Rsp] & ~0xFFFFUL) | sp;
        }
        else
        {
            if (_state.Virtual8086)
            {
                RaiseFault(ExceptionVector.GeneralProtection, selectorError);
                return false;
            }
            ulong sp = StackPointer;
            ulong mask = StackMask;
            int pushes = hasErrorCode ? 4 : 3;
            ulong newSp = (sp - (ulong)(pushes * gateSize)) & mask;
            WriteSegment(SegmentIndex.SS, (sp - (ulong)gateSize) & mask, gateSize, flags);
            WriteSegment(SegmentIndex.SS, (sp - (ulong)(2 * gateSize)) & mask, gateSize, oldCs);
            WriteSegment(SegmentIndex.SS, (sp - (ulong)(3 * gateSize)) & mask, gateSize, returnIp);
            if (hasErrorCode)
                WriteSegment(SegmentIndex.SS, newSp, gateSize, errorCode);
            if (Faulted)
                return false;
            SetStackPointer(newSp);
        }

        MarkDescriptorAccessed(selector, code);
        _state.Segments[SegmentIndex.CS] = SegmentFromDescriptor((ushort)((selector & 0xFFFC) | newCpl), code);
        _state.Cpl = newCpl;
        _state.Rip = offset;
        uint cleared = EflagsBits.TF | EflagsBits.NT | EflagsBits.RF | EflagsBits.VM | (interruptGate ? EflagsBits.IF : 0);
        _state.Eflags = flags & ~cleared;
        return true;
    }

    /// <summary>SS:ESP for privilege level <paramref name="cpl"/> from the current TSS (16- or 32-bit format).</summary>
    private bool TryReadTssStack(int cpl, out ushort ss, out ulong sp, uint ext)
    {
        ss = 0;
        sp = 0;
        int type = (_state.Tr.Attributes & 0xF);
        bool tss32 = type is (int)SystemTypeAvailableTss32 or (int)SystemTypeBusyTss32;
        uint spOffset = tss32 ? (uint)(4 + 8 * cpl) : (uint)(2 + 4 * cpl);
        uint ssOffset = tss32 ? spOffset + 4 : spOffset + 2;
        if ((_state.Tr.Selector & 0xFFFC) == 0 || ssOffset + 1 > _state.Tr.Limit)
        {
            RaiseFault(ExceptionVector.InvalidTss, (uint)(_state.Tr.Selector & 0xFFFC) + ext);
            return false;
        }
        sp = ReadSystem(_state.Tr.Base + spOffset, tss32 ? 4 : 2);
        ss = (ushort)ReadSystem(_state.Tr.Base + ssOffset, 2);
        return !Faulted;
    }

    /// <summary>Checks a stack segment for a privilege change: RPL = DPL = CPL, writable data, present.</summary>
    private bool TryValidateStackSegment(ushort selector, int cpl, int faultVector, uint ext, out Descriptor desc)
    {
        desc = default;
        uint error = (uint)(selector & 0xFFFC) + ext;
        if ((selector & 0xFFFC) == 0)
        {
            RaiseFault(faultVector, error);
            return false;
        }
        if (!TryReadDescriptor(selector, out desc, faultVector))
            return false;
        if ((selector & 3) != cpl || desc.Dpl != cpl || !desc.IsWritableData)
        {
            RaiseFault(faultVector, error);
            return false;
        }
        if (!desc.Present)
        {
            RaiseFault(ExceptionVector.StackFault, error);
            return false;
        }
        MarkDescriptorAccessed(selector, desc);
        return !Faulted;
    }

    /// <summary>CS load in real or virtual-8086 mode: base = selector × 16.</summary>
    private void LoadRealModeCode(ushort selector)
    {
        ref SegmentRegister cs = ref _state.Segments[SegmentIndex.CS];
        cs.Selector = selector;
        cs.Base = (ulong)selector << 4;
        if (_state.Virtual8086)
        {
            cs.Limit = 0xFFFF;
            cs.Attributes = DescriptorAttributes.RealModeCode | (3 << 5);
        }
    }
}
