using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// Jumps, calls, returns, loops and IRET, including protected-mode far transfers and call gates.
public sealed partial class X86Cpu
{
    /// <summary>Near transfer to <paramref name="target"/> (already truncated to the operand size); #GP(0) beyond CS limit.</summary>
    private void NearJump(ulong target)
    {
        if (target > _state.Segments[SegmentIndex.CS].Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        _nextIp = target;
    }

    private void JumpRelative(ref DecodedInstruction d)
    {
        ulong mask = d.Instruction.Op0Kind == OpKind.NearBranch16 ? 0xFFFFUL : 0xFFFF_FFFFUL;
        NearJump((_nextIp + (ulong)d.BranchDisplacement) & mask);
    }

    private void ExecuteJmp(ref DecodedInstruction d)
    {
        ref Instruction i = ref d.Instruction;
        switch (i.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
            case OpKind.NearBranch64:
                JumpRelative(ref d);
                return;
            case OpKind.FarBranch16:
                FarJump(i.FarBranchSelector, i.FarBranch16, 2);
                return;
            case OpKind.FarBranch32:
                FarJump(i.FarBranchSelector, i.FarBranch32, 4);
                return;
        }
        if (i.IsJmpFarIndirect)
        {
            if (!ReadFarPointer(ref d, out ushort selector, out ulong offset))
                return;
            FarJump(selector, offset, FarPointerOffsetSize(ref d));
            return;
        }
        ulong target = ReadOperand(ref d, 0, d.OperandSize);
        if (!Faulted)
            NearJump(target);
    }

    /// <summary>Offset width of an m16:16, m16:32 or m16:64 far pointer operand.</summary>
    private static int FarPointerOffsetSize(ref DecodedInstruction d) => d.Instruction.MemorySize switch
    {
        MemorySize.SegPtr16 => 2,
        MemorySize.SegPtr64 => 8,
        _ => 4,
    };

    /// <summary>Reads an m16:16 or m16:32 far pointer operand.</summary>
    private bool ReadFarPointer(ref DecodedInstruction d, out ushort selector, out ulong offset)
    {
        int offsetSize = FarPointerOffsetSize(ref d);
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        offset = ReadSegment(seg, ea, offsetSize);
        selector = (ushort)ReadSegment(seg, (ea + (ulong)offsetSize) & AddressMask(d.AddressSize), 2);
        return !Faulted;
    }

    private void ExecuteCall(ref DecodedInstruction d)
    {
        ref Instruction i = ref d.Instruction;
        switch (i.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
            case OpKind.NearBranch64:
            {
                int size = i.Op0Kind == OpKind.NearBranch16 ? 2 : 4;
                ulong target = (_nextIp + (ulong)d.BranchDisplacement) & (size == 2 ? 0xFFFFUL : 0xFFFF_FFFFUL);
                if (target > _state.Segments[SegmentIndex.CS].Limit)
                {
                    RaiseFault(ExceptionVector.GeneralProtection, 0);
                    return;
                }
                if (Push(_nextIp, size))
                    _nextIp = target;
                return;
            }
            case OpKind.FarBranch16:
                FarCall(i.FarBranchSelector, i.FarBranch16, 2);
                return;
            case OpKind.FarBranch32:
                FarCall(i.FarBranchSelector, i.FarBranch32, 4);
                return;
        }
        if (i.IsCallFarIndirect)
        {
            if (ReadFarPointer(ref d, out ushort selector, out ulong offset))
                FarCall(selector, offset, FarPointerOffsetSize(ref d));
            return;
        }
        int opSize = d.OperandSize;
        ulong newIp = ReadOperand(ref d, 0, opSize);
        if (Faulted)
            return;
        if (newIp > _state.Segments[SegmentIndex.CS].Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        if (Push(_nextIp, opSize))
            _nextIp = newIp;
    }

    private void ExecuteRetNear(ref DecodedInstruction d)
    {
        int size = d.Instruction.Code is Code.Retnw or Code.Retnw_imm16 ? 2 : d.Instruction.Code is Code.Retnq or Code.Retnq_imm16 ? 8 : 4;
        ulong target = PeekStack(0, size);
        if (Faulted)
            return;
        if (target > _state.Segments[SegmentIndex.CS].Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        ulong release = d.Instruction.OpCount > 0 ? d.Instruction.Immediate16 : 0UL;
        SetStackPointer(StackPointer + (ulong)size + release);
        _nextIp = target;
    }

    private void ExecuteLoop(ref DecodedInstruction d)
    {
        int counterSize = d.AddressSize;
        ulong count = (ReadGpr(Gpr.Rcx, counterSize) - 1) & SizeMask(counterSize);
        bool taken = count != 0 && d.Instruction.Mnemonic switch
        {
            Mnemonic.Loope => GetZF(),
            Mnemonic.Loopne => !GetZF(),
            _ => true,
        };
        if (taken)
        {
            JumpRelative(ref d);
            if (Faulted)
                return;
        }
        WriteGpr(Gpr.Rcx, counterSize, count);
    }

    // ---- far transfers ----

    private void FarJump(ushort selector, ulong offset, int operandSize)
    {
        if (!_state.ProtectedMode || _state.Virtual8086)
        {
            if (offset > _state.Segments[SegmentIndex.CS].Limit)
            {
                RaiseFault(ExceptionVector.GeneralProtection, 0);
                return;
            }
            LoadRealModeCode(selector);
            _nextIp = offset;
            return;
        }
        if (!TryResolveFarTarget(selector, ref offset, ref operandSize, isCall: false, out Descriptor code, out ushort codeSelector, out _, out _))
            return;
        CommitCodeSegment(codeSelector, code, _state.Cpl);
        _nextIp = offset;
    }

    private void FarCall(ushort selector, ulong offset, int operandSize)
    {
        ushort oldCs = _state.Segments[SegmentIndex.CS].Selector;
        if (!_state.ProtectedMode || _state.Virtual8086)
        {
            ulong sp = StackPointer;
            ulong mask = StackMask;
            WriteSegment(SegmentIndex.SS, (sp - (ulong)operandSize) & mask, operandSize, oldCs);
            WriteSegment(SegmentIndex.SS, (sp - (ulong)(2 * operandSize)) & mask, operandSize, _nextIp);
            if (Faulted)
                return;
            SetStackPointer(sp - (ulong)(2 * operandSize));
            LoadRealModeCode(selector);
            _nextIp = offset & (operandSize == 2 ? 0xFFFFUL : 0xFFFF_FFFFUL);
            return;
        }

        if (!TryResolveFarTarget(selector, ref offset, ref operandSize, isCall: true, out Descriptor code, out ushort codeSelector, out bool viaGate, out int parameterCount))
            return;

        int targetCpl = code.IsConforming ? _state.Cpl : code.Dpl;
        if (viaGate && targetCpl < _state.Cpl)
        {
            CallGateToInnerLevel(code, codeSelector, offset, operandSize, parameterCount, targetCpl, oldCs);
            return;
        }

        ulong stackPointer = StackPointer;
        ulong stackMask = StackMask;
        WriteSegment(SegmentIndex.SS, (stackPointer - (ulong)operandSize) & stackMask, operandSize, oldCs);
        WriteSegment(SegmentIndex.SS, (stackPointer - (ulong)(2 * operandSize)) & stackMask, operandSize, _nextIp);
        if (Faulted)
            return;
        SetStackPointer(stackPointer - (ulong)(2 * operandSize));
        CommitCodeSegment(codeSelector, code, _state.Cpl);
        _nextIp = offset;
    }

    /// <summary>
    /// Protected-mode far JMP/CALL target: a code segment (same privilege rules) or a call gate. Task gates and
    /// TSS targets (task switches) are not supported and raise #GP(selector).
    /// </summary>
    private bool TryResolveFarTarget(ushort selector, ref ulong offset, ref int operandSize, bool isCall,
        out Descriptor code, out ushort codeSelector, out bool viaGate, out int parameterCount)
    {
        code = default;
        codeSelector = selector;
        viaGate = false;
        parameterCount = 0;
        uint error = (uint)(selector & 0xFFFC);
        if ((selector & 0xFFFC) == 0)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return false;
        }
        if (!TryReadDescriptor(selector, out Descriptor desc))
            return false;
        int rpl = selector & 3;
        int cpl = _state.Cpl;

        if (desc.IsCodeOrData)
        {
            if (!desc.IsCode
                || (desc.IsConforming ? desc.Dpl > cpl : (rpl > cpl || desc.Dpl != cpl)))
            {
                RaiseFault(ExceptionVector.GeneralProtection, error);
                return false;
            }
            if (!desc.Present)
            {
                RaiseFault(ExceptionVector.SegmentNotPresent, error);
                return false;
            }
            if (offset > desc.Limit)
            {
                RaiseFault(ExceptionVector.GeneralProtection, 0);
                return false;
            }
            code = desc;
            return true;
        }

        int type = desc.Type;
        if (type is (int)SystemTypeAvailableTss16 or (int)SystemTypeAvailableTss32 or (int)SystemTypeTaskGate)
        {
            // A task switch; it leaves the new task's EIP in _nextIp (or a fault). Nothing more to resolve.
            if (desc.Dpl < cpl || desc.Dpl < rpl)
                RaiseFault(ExceptionVector.GeneralProtection, error);
            else if (!desc.Present)
                RaiseFault(ExceptionVector.SegmentNotPresent, error);
            else
                SwitchTaskThrough(selector, desc, isCall ? TaskSwitchSource.Call : TaskSwitchSource.Jmp, _nextIp);
            return false;
        }
        if (type is not ((int)SystemTypeCallGate16 or (int)SystemTypeCallGate32))
        {
            RaiseFault(ExceptionVector.GeneralProtection, error);
            return false;
        }
        if (desc.Dpl < cpl || desc.Dpl < rpl)
        {
            RaiseFault(ExceptionVector.GeneralProtection, error);
            return false;
        }
        if (!desc.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, error);
            return false;
        }
        codeSelector = desc.GateSelector;
        uint codeError = (uint)(codeSelector & 0xFFFC);
        if ((codeSelector & 0xFFFC) == 0)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return false;
        }
        if (!TryReadDescriptor(codeSelector, out code))
            return false;
        bool privilegeOk = code.IsConforming || !isCall ? (code.IsConforming ? code.Dpl <= cpl : code.Dpl == cpl) : code.Dpl <= cpl;
        if (!code.IsCode || !privilegeOk)
        {
            RaiseFault(ExceptionVector.GeneralProtection, codeError);
            return false;
        }
        if (!code.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, codeError);
            return false;
        }
        operandSize = type == (int)SystemTypeCallGate32 ? 4 : 2;
        offset = operandSize == 4 ? desc.GateOffset : desc.GateOffset & 0xFFFF;
        if (offset > code.Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return false;
        }
        viaGate = true;
        parameterCount = desc.GateParameterCount;
        return true;
    }

    /// <summary>CALL through a call gate to a more privileged non-conforming segment: new stack from the TSS, parameters copied.</summary>
    private void CallGateToInnerLevel(Descriptor code, ushort codeSelector, ulong offset, int size, int parameterCount, int newCpl, ushort oldCs)
    {
        if (!TryReadTssStack(newCpl, out ushort newSs, out ulong newSp, 0))
            return;
        if (!TryValidateStackSegment(newSs, newCpl, ExceptionVector.InvalidTss, 0, out Descriptor ssDesc))
            return;
        SegmentRegister newStack = SegmentFromDescriptor(newSs, ssDesc);
        ulong newMask = newStack.Big ? 0xFFFF_FFFFUL : 0xFFFFUL;
        ulong oldSp = StackPointer;
        ulong oldMask = StackMask;
        ulong sp = newSp & newMask;

        void PushNew(ulong value)
        {
            sp = (sp - (ulong)size) & newMask;
            WriteLinear((newStack.Base + sp) & 0xFFFF_FFFFUL, size, value, user: false);
        }

        PushNew(_state.Segments[SegmentIndex.SS].Selector);
        PushNew(_state.Gpr[Gpr.Rsp] & oldMask);
        for (int p = parameterCount - 1; p >= 0; p--)
        {
            ulong parameter = ReadSegment(SegmentIndex.SS, (oldSp + (ulong)(p * size)) & oldMask, size);
            if (Faulted)
                return;
            PushNew(parameter);
        }
        PushNew(oldCs);
        PushNew(_nextIp);
        if (Faulted)
            return;
        _state.Segments[SegmentIndex.SS] = newStack;
        _state.Gpr[Gpr.Rsp] = newStack.Big ? sp : (_state.Gpr[Gpr.Rsp] & ~0xFFFFUL) | sp;
        CommitCodeSegment(codeSelector, code, newCpl);
        _nextIp = offset;
    }

    /// <summary>Loads CS from a validated descriptor with RPL = the new CPL.</summary>
    private void CommitCodeSegment(ushort selector, Descriptor code, int cpl)
    {
        MarkDescriptorAccessed(selector, code);
        _state.Segments[SegmentIndex.CS] = SegmentFromDescriptor((ushort)((selector & 0xFFFC) | cpl), code);
        _state.Cpl = cpl;
    }

    private void ExecuteRetFar(ref DecodedInstruction d)
    {
        int size = d.Instruction.Code is Code.Retfw or Code.Retfw_imm16 ? 2 : d.Instruction.Code is Code.Retfq or Code.Retfq_imm16 ? 8 : 4;
        ulong release = d.Instruction.OpCount > 0 ? d.Instruction.Immediate16 : 0UL;
        ulong newIp = PeekStack(0, size);
        ushort newCs = (ushort)PeekStack((ulong)size, size);
        if (Faulted)
            return;

        if (!_state.ProtectedMode || _state.Virtual8086)
        {
            if (newIp > _state.Segments[SegmentIndex.CS].Limit)
            {
                RaiseFault(ExceptionVector.GeneralProtection, 0);
                return;
            }
            SetStackPointer(StackPointer + (ulong)(2 * size) + release);
            LoadRealModeCode(newCs);
            _nextIp = newIp;
            return;
        }
        ReturnToProtectedMode(newCs, newIp, size, (ulong)(2 * size) + release, release, newFlags: null);
    }

    /// <summary>
    /// The protected-mode half of RETF and IRET: validates the return CS, and for a return to an outer level
    /// pops SS:ESP (found <paramref name="frameSize"/> bytes above SP) and nulls data segments the outer level may not use.
    /// </summary>
    private void ReturnToProtectedMode(ushort newCs, ulong newIp, int size, ulong frameSize, ulong release, uint? newFlags)
    {
        int rpl = newCs & 3;
        uint error = (uint)(newCs & 0xFFFC);
        if ((newCs & 0xFFFC) == 0)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        if (!TryReadDescriptor(newCs, out Descriptor code))
            return;
        if (!code.IsCode || rpl < _state.Cpl || (code.IsConforming ? code.Dpl > rpl : code.Dpl != rpl))
        {
            RaiseFault(ExceptionVector.GeneralProtection, error);
            return;
        }
        if (!code.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, error);
            return;
        }
        if (newIp > code.Limit)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }

        uint flagsMask = PopfMask(size); // decided by the privilege level we return from
        if (rpl == _state.Cpl)
        {
            SetStackPointer(StackPointer + frameSize);
            CommitCodeSegment(newCs, code, rpl);
        }
        else
        {
            ulong outerSp = PeekStack(frameSize, size);
            ushort outerSs = (ushort)PeekStack(frameSize + (ulong)size, size);
            if (Faulted)
                return;
            if (!TryValidateStackSegment(outerSs, rpl, ExceptionVector.GeneralProtection, 0, out Descriptor ssDesc))
                return;
            CommitCodeSegment(newCs, code, rpl);
            _state.Segments[SegmentIndex.SS] = SegmentFromDescriptor(outerSs, ssDesc);
            SetStackPointer(outerSp + release);
            InvalidateSegmentsForOuterLevel();
        }
        if (newFlags is uint f)
            SetEflags(f, flagsMask);
        _nextIp = newIp;
    }

    private void ExecuteIret(int size)
    {
        UnblockNmi(); // even an IRET that faults ends the NMI handler's blocking (SDM vol. 3, 6.7.1)
        if (_state.Virtual8086 && Iopl < 3)
        {
            RaiseFault(ExceptionVector.GeneralProtection, 0);
            return;
        }
        ulong newIp = PeekStack(0, size);
        ushort newCs = (ushort)PeekStack((ulong)size, size);
        uint newFlags = (uint)PeekStack((ulong)(2 * size), size);
        if (Faulted)
            return;

        if (!_state.ProtectedMode || _state.Virtual8086)
        {
            if (newIp > _state.Segments[SegmentIndex.CS].Limit)
            {
                RaiseFault(ExceptionVector.GeneralProtection, 0);
                return;
            }
            SetStackPointer(StackPointer + (ulong)(3 * size));
            LoadRealModeCode(newCs);
            _nextIp = newIp;
            SetEflags(newFlags, PopfMask(size));
            return;
        }
        if ((_state.Eflags & EflagsBits.NT) != 0)
        {
            // Return from a nested task: switch back to the task named by the back link.
            ushort link = (ushort)ReadSystem(_state.Tr.Base, 2);
            if (Faulted)
                return;
            if ((link & 4) != 0 || !TryReadDescriptor(link, out Descriptor previous, ExceptionVector.InvalidTss))
            {
                RaiseFault(ExceptionVector.InvalidTss, (uint)(link & 0xFFFC));
                return;
            }
            SwitchTask(link, previous, TaskSwitchSource.Iret, _nextIp, hasErrorCode: false, errorCode: 0);
            return;
        }
        if (size == 4 && (newFlags & EflagsBits.VM) != 0 && _state.Cpl == 0)
        {
            ReturnToVirtual8086(newIp, newCs, newFlags);
            return;
        }
        ReturnToProtectedMode(newCs, newIp, size, (ulong)(3 * size), 0, newFlags);
    }

    /// <summary>
    /// IRETD at CPL 0 with VM set in the popped EFLAGS: the frame also holds ESP, SS, ES, DS, FS and GS, and
    /// every segment register is then loaded the real-mode way (base = selector × 16) at CPL 3.
    /// </summary>
    private void ReturnToVirtual8086(ulong newIp, ushort newCs, uint newFlags)
    {
        Span<ushort> selectors = stackalloc ushort[6];
        ulong newEsp = PeekStack(12, 4);
        selectors[SegmentIndex.SS] = (ushort)PeekStack(16, 4);
        selectors[SegmentIndex.ES] = (ushort)PeekStack(20, 4);
        selectors[SegmentIndex.DS] = (ushort)PeekStack(24, 4);
        selectors[SegmentIndex.FS] = (ushort)PeekStack(28, 4);
        selectors[SegmentIndex.GS] = (ushort)PeekStack(32, 4);
        if (Faulted)
            return;

        const uint virtual8086Flags = EflagsBits.Arithmetic | EflagsBits.TF | EflagsBits.IF | EflagsBits.DF | EflagsBits.IoplMask
                                      | EflagsBits.NT | EflagsBits.RF | EflagsBits.VM | EflagsBits.AC | EflagsBits.ID;
        SetEflags(newFlags, virtual8086Flags);
        _state.Cpl = 3;
        LoadRealModeCode(newCs);
        selectors[SegmentIndex.CS] = newCs;
        for (int seg = 0; seg < 6; seg++)
        {
            if (seg != SegmentIndex.CS)
                _state.Segments[seg] = new SegmentRegister
                {
                    Selector = selectors[seg],
                    Base = (ulong)selectors[seg] << 4,
                    Limit = 0xFFFF,
                    Attributes = DescriptorAttributes.RealModeData | (3 << 5),
                };
        }
        _state.Gpr[Gpr.Rsp] = (uint)newEsp;
        _nextIp = newIp & 0xFFFF;
    }
}
