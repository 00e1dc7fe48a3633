namespace SplitEmu.CpuHost.Cpu;

/// <summary>What started a hardware task switch; decides busy bits, NT and the back link (SDM vol. 3 §8.3).</summary>
internal enum TaskSwitchSource : byte { Jmp, Call, Interrupt, Iret }

// Hardware task switching through TSS descriptors and task gates (16- and 32-bit TSS formats).
public sealed partial class X86Cpu
{
    private const int Tss32MinimumLimit = 0x67;
    private const int Tss16MinimumLimit = 0x2B;

    /// <summary>Byte offsets of the fields a task switch saves and loads, for one TSS format.</summary>
    private readonly struct TssLayout(bool is32)
    {
        public readonly bool Is32 = is32;
        public int Width => Is32 ? 4 : 2;
        public uint Eip => Is32 ? 0x20u : 0x0Eu;
        public uint Eflags => Is32 ? 0x24u : 0x10u;
        /// <summary>EAX..EDI in ModRM order.</summary>
        public uint Gpr(int slot) => (Is32 ? 0x28u : 0x12u) + (uint)(slot * Width);
        /// <summary>ES, CS, SS, DS (and FS, GS in the 32-bit format) in <see cref="SegmentIndex"/> order.</summary>
        public uint Segment(int index) => (Is32 ? 0x48u : 0x22u) + (uint)(index * (Is32 ? 4 : 2));
        public uint Ldt => Is32 ? 0x60u : 0x2Au;
        public int SegmentCount => Is32 ? 6 : 4;
    }

    private static bool IsTss(Descriptor d, bool busy)
        => !d.IsCodeOrData && d.Type == (int)(busy ? SystemTypeBusyTss16 : SystemTypeAvailableTss16)
           || !d.IsCodeOrData && d.Type == (int)(busy ? SystemTypeBusyTss32 : SystemTypeAvailableTss32);

    /// <summary>
    /// JMP/CALL/INT through a TSS descriptor or a task gate. Returns false (with a fault recorded) if the
    /// target is not a usable TSS; on success execution continues in the new task at <see cref="_nextIp"/>.
    /// </summary>
    private bool SwitchTaskThrough(ushort selector, Descriptor descriptor, TaskSwitchSource source, ulong returnIp,
        bool hasErrorCode = false, uint errorCode = 0)
    {
        ushort tssSelector = selector;
        Descriptor tss = descriptor;
        if (descriptor.Type == (int)SystemTypeTaskGate)
        {
            tssSelector = descriptor.GateSelector;
            if ((tssSelector & 4) != 0 || !TryReadDescriptor(tssSelector, out tss))
            {
                RaiseFault(ExceptionVector.GeneralProtection, (uint)(tssSelector & 0xFFFC));
                return false;
            }
        }
        return SwitchTask(tssSelector, tss, source, returnIp, hasErrorCode, errorCode);
    }

    private bool SwitchTask(ushort newSelector, Descriptor newTss, TaskSwitchSource source, ulong returnIp, bool hasErrorCode, uint errorCode)
    {
        uint newError = (uint)(newSelector & 0xFFFC);
        bool expectBusy = source == TaskSwitchSource.Iret;
        if ((newSelector & 4) != 0 || !IsTss(newTss, expectBusy))
        {
            RaiseFault(source == TaskSwitchSource.Iret ? ExceptionVector.InvalidTss : ExceptionVector.GeneralProtection, newError);
            return false;
        }
        if (!newTss.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, newError);
            return false;
        }
        var next = new TssLayout((newTss.Type & 8) != 0);
        if (newTss.Limit < (next.Is32 ? Tss32MinimumLimit : Tss16MinimumLimit))
        {
            RaiseFault(ExceptionVector.InvalidTss, newError);
            return false;
        }

        // Save the outgoing task into its TSS.
        var current = new TssLayout((_state.Tr.Attributes & 8) != 0);
        ulong oldBase = _state.Tr.Base;
        uint flags = GetEflags();
        if (source == TaskSwitchSource.Iret)
            flags &= ~EflagsBits.NT;
        WriteSystem(oldBase + current.Eip, current.Width, returnIp);
        WriteSystem(oldBase + current.Eflags, current.Width, flags);
        for (int r = 0; r < 8; r++)
            WriteSystem(oldBase + current.Gpr(r), current.Width, _state.Gpr[r]);
        for (int s = 0; s < current.SegmentCount; s++)
            WriteSystem(oldBase + current.Segment(s), 2, _state.Segments[s].Selector);
        if (Faulted)
            return false;

        ushort oldSelector = _state.Tr.Selector;
        if (source is TaskSwitchSource.Jmp or TaskSwitchSource.Iret)
            SetTssBusy(oldSelector, busy: false);
        if (source is TaskSwitchSource.Call or TaskSwitchSource.Interrupt)
            WriteSystem(newTss.Base, 2, oldSelector); // back link for IRET
        if (source != TaskSwitchSource.Iret)
            SetTssBusy(newSelector, busy: true);

        // Read the incoming task's state before committing to it.
        ulong newBase = newTss.Base;
        ulong cr3 = next.Is32 ? ReadSystem(newBase + 0x1C, 4) : _state.Cr3;
        ulong eip = ReadSystem(newBase + next.Eip, next.Width);
        uint newFlags = (uint)ReadSystem(newBase + next.Eflags, next.Width);
        Span<ulong> gprs = stackalloc ulong[8];
        for (int r = 0; r < 8; r++)
            gprs[r] = ReadSystem(newBase + next.Gpr(r), next.Width);
        Span<ushort> selectors = stackalloc ushort[6];
        for (int s = 0; s < next.SegmentCount; s++)
            selectors[s] = (ushort)ReadSystem(newBase + next.Segment(s), 2);
        ushort ldt = (ushort)ReadSystem(newBase + next.Ldt, 2);
        if (Faulted)
            return false;

        // Commit: from here faults belong to the new task.
        _state.Tr = new SegmentRegister { Selector = newSelector, Base = newTss.Base, Limit = newTss.Limit, Attributes = (ushort)(newTss.Attributes | 2) };
        _state.Cr0 |= ControlRegisters.Cr0Ts;
        if (next.Is32 && _state.PagingEnabled && cr3 != _state.Cr3)
        {
            _state.Cr3 = cr3;
            FlushNonGlobalTranslations();
        }
        // A 16-bit TSS has no upper halves: the 386 sets those of the general registers to FFFFh and clears
        // EFLAGS' (so VM, RF and AC end up 0).
        for (int r = 0; r < 8; r++)
            _state.Gpr[r] = next.Is32 ? gprs[r] : 0xFFFF_0000UL | gprs[r];
        if (source is TaskSwitchSource.Call or TaskSwitchSource.Interrupt)
            newFlags |= EflagsBits.NT;
        _flagsOp = LazyFlagsOp.None;
        _state.Eflags = newFlags | EflagsBits.Reserved1;
        if ((_state.Eflags & EflagsBits.IF) != 0)
            _eventsPending = 1;
        _state.Rip = eip;
        _nextIp = eip;
        _instructionIp = eip; // a fault from here on is reported at the new task's EIP

        // Selectors first (a later fault reports them), then descriptors with their checks.
        for (int s = 0; s < 6; s++)
            _state.Segments[s].Selector = s < next.SegmentCount ? selectors[s] : (ushort)0;
        _state.Ldtr.Selector = ldt;
        if (!LoadTaskLdt(ldt))
            return false;
        if (next.Is32 && (newFlags & EflagsBits.VM) != 0)
            LoadVirtual8086TaskSegments(selectors); // the new task runs in virtual-8086 mode: no descriptors to check
        else if (!LoadTaskSegments(selectors, next.SegmentCount))
            return false;

        if (hasErrorCode)
            Push(errorCode, next.Width);
        return !Faulted;
    }

    private void SetTssBusy(ushort selector, bool busy)
    {
        ulong typeByte = _state.Gdtr.Base + (uint)(selector & 0xFFF8) + 5;
        ulong value = ReadSystem(typeByte, 1);
        WriteSystem(typeByte, 1, busy ? value | 2 : value & ~2UL);
    }

    private bool LoadTaskLdt(ushort selector)
    {
        if ((selector & 0xFFFC) == 0)
        {
            _state.Ldtr = new SegmentRegister { Selector = selector };
            return true;
        }
        if ((selector & 4) != 0 || !TryReadDescriptor(selector, out Descriptor d, ExceptionVector.InvalidTss)
            || d.IsCodeOrData || d.Type != (int)SystemTypeLdt || !d.Present)
        {
            RaiseFault(ExceptionVector.InvalidTss, (uint)(selector & 0xFFFC));
            return false;
        }
        _state.Ldtr = new SegmentRegister { Selector = selector, Base = d.Base, Limit = d.Limit, Attributes = d.Attributes };
        return true;
    }

    /// <summary>Segments of a task whose EFLAGS has VM set: base = selector * 16, 64 KiB limits, DPL 3, CPL 3.</summary>
    private void LoadVirtual8086TaskSegments(ReadOnlySpan<ushort> selectors)
    {
        for (int s = 0; s < 6; s++)
        {
            ushort attributes = (ushort)((s == SegmentIndex.CS ? DescriptorAttributes.RealModeCode : DescriptorAttributes.RealModeData) | (3 << 5));
            _state.Segments[s] = new SegmentRegister { Selector = selectors[s], Base = (ulong)selectors[s] << 4, Limit = 0xFFFF, Attributes = attributes };
        }
        _state.Cpl = 3;
    }

    /// <summary>Loads CS, SS and the data segments of the new task; CPL becomes CS.RPL. Faults are #TS/#SS/#NP.</summary>
    private bool LoadTaskSegments(ReadOnlySpan<ushort> selectors, int count)
    {
        ushort cs = selectors[SegmentIndex.CS];
        int cpl = cs & 3;
        if (!TryReadDescriptor(cs, out Descriptor code, ExceptionVector.InvalidTss)
            || !code.IsCode || (code.IsConforming ? code.Dpl > cpl : code.Dpl != cpl))
        {
            RaiseFault(ExceptionVector.InvalidTss, (uint)(cs & 0xFFFC));
            return false;
        }
        if (!code.Present)
        {
            RaiseFault(ExceptionVector.SegmentNotPresent, (uint)(cs & 0xFFFC));
            return false;
        }
        _state.Segments[SegmentIndex.CS] = SegmentFromDescriptor(cs, code);
        _state.Cpl = cpl;

        if (!TryValidateStackSegment(selectors[SegmentIndex.SS], cpl, ExceptionVector.InvalidTss, 0, out Descriptor stack))
            return false;
        _state.Segments[SegmentIndex.SS] = SegmentFromDescriptor(selectors[SegmentIndex.SS], stack);

        for (int s = 0; s < 6; s++)
        {
            if (s is SegmentIndex.CS or SegmentIndex.SS)
                continue;
            ushort selector = s < count ? selectors[s] : (ushort)0;
            if ((selector & 0xFFFC) == 0)
            {
                _state.Segments[s] = new SegmentRegister { Selector = selector };
                continue;
            }
            uint error = (uint)(selector & 0xFFFC);
            if (!TryReadDescriptor(selector, out Descriptor data, ExceptionVector.InvalidTss)
                || !data.IsCodeOrData || (data.IsCode && !data.IsReadableCode)
                || (!data.IsConforming && data.Dpl < Math.Max(cpl, selector & 3)))
            {
                RaiseFault(ExceptionVector.InvalidTss, error);
                return false;
            }
            if (!data.Present)
            {
                RaiseFault(ExceptionVector.SegmentNotPresent, error);
                return false;
            }
            _state.Segments[s] = SegmentFromDescriptor(selector, data);
        }
        return true;
    }
}
