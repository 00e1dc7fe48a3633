namespace SplitEmu.CpuHost.Cpu;

// Segment descriptors and segment register loads (real mode, protected mode checks).
public sealed partial class X86Cpu
{
    /// <summary>A raw 8-byte segment or gate descriptor.</summary>
    private readonly struct Descriptor(ulong raw)
    {
        public readonly ulong Raw = raw;
        public ulong Base => ((Raw >> 16) & 0xFF_FFFF) | ((Raw >> 32) & 0xFF00_0000);
        public uint Limit
        {
            get
            {
                uint limit = (uint)(Raw & 0xFFFF) | (uint)((Raw >> 32) & 0xF_0000);
                return (Raw & (1UL << 55)) != 0 ? (limit << 12) | 0xFFF : limit;
            }
        }
        /// <summary>Bytes 5 and 6 without the limit nibble: the layout of <see cref="SegmentRegister.Attributes"/>.</summary>
        public ushort Attributes => (ushort)((Raw >> 40) & 0xF0FF);
        public int Type => (int)(Raw >> 40) & 0xF;
        public bool IsCodeOrData => (Raw & (1UL << 44)) != 0;
        public bool IsCode => IsCodeOrData && (Type & 8) != 0;
        public bool IsConforming => IsCode && (Type & 4) != 0;
        public bool IsReadableCode => IsCode && (Type & 2) != 0;
        public bool IsWritableData => IsCodeOrData && (Type & 8) == 0 && (Type & 2) != 0;
        public int Dpl => (int)(Raw >> 45) & 3;
        public bool Present => (Raw & (1UL << 47)) != 0;

        // Gate fields.
        public ushort GateSelector => (ushort)(Raw >> 16);
        public uint GateOffset => (uint)(Raw & 0xFFFF) | (uint)((Raw >> 32) & 0xFFFF_0000);
        public int GateParameterCount => (int)(Raw >> 32) & 0x1F;
    }

    private const uint SystemTypeAvailableTss16 = 1, SystemTypeLdt = 2, SystemTypeBusyTss16 = 3, SystemTypeCallGate16 = 4,
        SystemTypeTaskGate = 5, SystemTypeInterruptGate16 = 6, SystemTypeTrapGate16 = 7, SystemTypeAvailableTss32 = 9,
        SystemTypeBusyTss32 = 11, SystemTypeCallGate32 = 12, SystemTypeInterruptGate32 = 14, SystemTypeTrapGate32 = 15;

    /// <summary>Reads the descriptor a selector names (GDT or LDT). Raises #GP(selector) if outside the table.</summary>
    private bool TryReadDescriptor(ushort selector, out Descriptor descriptor, int faultVector = ExceptionVector.GeneralProtection)
    {
        descriptor = default;
        ulong tableBase;
        uint tableLimit;
        if ((selector & 4) != 0)
        {
            if ((_state.Ldtr.Selector & 0xFFFC) == 0)
            {
                RaiseFault(faultVector, (uint)(selector & 0xFFFC));
                return false;
            }
            tableBase = _state.Ldtr.Base;
            tableLimit = _state.Ldtr.Limit;
        }
        else
        {
            tableBase = _state.Gdtr.Base;
            tableLimit = _state.Gdtr.Limit;
        }
        uint offset = (uint)(selector & 0xFFF8);
        if (offset + 7 > tableLimit)
        {
            RaiseFault(faultVector, (uint)(selector & 0xFFFC));
            return false;
        }
        descriptor = new Descriptor(ReadSystem(tableBase + offset, 8));
        return !Faulted;
    }

    /// <summary>Sets the Accessed bit of a code/data descriptor in its table.</summary>
    private void MarkDescriptorAccessed(ushort selector, Descriptor descriptor)
    {
        if ((descriptor.Raw & (1UL << 40)) != 0)
            return;
        ulong tableBase = (selector & 4) != 0 ? _state.Ldtr.Base : _state.Gdtr.Base;
        ulong address = tableBase + (uint)(selector & 0xFFF8) + 5;
        WriteSystem(address, 1, (ulong)((byte)(descriptor.Raw >> 40) | 1));
    }

    private static SegmentRegister SegmentFromDescriptor(ushort selector, Descriptor descriptor) => new()
    {
        Selector = selector,
        Base = descriptor.Base,
        Limit = descriptor.Limit,
        Attributes = (ushort)(descriptor.Attributes | DescriptorAttributes.Accessed),
    };

    /// <summary>Loads DS, ES, FS, GS or SS (MOV, POP, LDS...). CS is loaded only by control transfers.</summary>
    private void LoadSegmentRegister(int seg, ushort selector)
    {
        if (seg == SegmentIndex.CS)
        {
            RaiseFault(ExceptionVector.InvalidOpcode);
            return;
        }
        if (!_state.ProtectedMode || _state.Virtual8086)
        {
            ref SegmentRegister s = ref _state.Segments[seg];
            s.Selector = selector;
            s.Base = (ulong)selector << 4;
            if (_state.Virtual8086)
            {
                s.Limit = 0xFFFF;
                s.Attributes = DescriptorAttributes.RealModeData | (3 << 5);
            }
            if (seg == SegmentIndex.SS)
                _interruptShadowUntil = _runExecuted + 2;
            return;
        }

        int rpl = selector & 3;
        if ((selector & 0xFFFC) == 0)
        {
            if (seg == SegmentIndex.SS)
            {
                RaiseFault(ExceptionVector.GeneralProtection, 0);
                return;
            }
            // A null selector loads an unusable segment; using it raises #GP.
            _state.Segments[seg] = new SegmentRegister { Selector = selector };
            return;
        }

        if (!TryReadDescriptor(selector, out Descriptor desc))
            return;
        uint error = (uint)(selector & 0xFFFC);
        if (seg == SegmentIndex.SS)
        {
            if (rpl != _state.Cpl || desc.Dpl != _state.Cpl || !desc.IsWritableData)
            {
                RaiseFault(ExceptionVector.GeneralProtection, error);
                return;
            }
            if (!desc.Present)
            {
                RaiseFault(ExceptionVector.StackFault, error);
                return;
            }
            _interruptShadowUntil = _runExecuted + 2;
        }
        else
        {
            if (!desc.IsCodeOrData || (desc.IsCode && !desc.IsReadableCode))
            {
                RaiseFault(ExceptionVector.GeneralProtection, error);
                return;
            }
            if (!desc.IsConforming && desc.Dpl < Math.Max(_state.Cpl, rpl))
            {
                RaiseFault(ExceptionVector.GeneralProtection, error);
                return;
            }
            if (!desc.Present)
            {
                RaiseFault(ExceptionVector.SegmentNotPresent, error);
                return;
            }
        }
        MarkDescriptorAccessed(selector, desc);
        if (Faulted)
            return;
        _state.Segments[seg] = SegmentFromDescriptor(selector, desc);
    }

    private void ExecuteLoadFarPointer(ref DecodedInstruction d, int seg)
    {
        int size = d.OperandSize;
        if (d.Instruction.Op1Kind != Iced.Intel.OpKind.Memory)
        {
            RaiseFault(ExceptionVector.InvalidOpcode);
            return;
        }
        int memSeg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        ulong offset = ReadSegment(memSeg, ea, size);
        ulong selector = ReadSegment(memSeg, (ea + (ulong)size) & AddressMask(d.AddressSize), 2);
        if (Faulted)
            return;
        LoadSegmentRegister(seg, (ushort)selector);
        if (!Faulted)
            WriteRegister(d.Instruction.Op0Register, offset);
    }

    private static ulong AddressMask(int addressSize) => addressSize == 2 ? 0xFFFFUL : addressSize == 4 ? 0xFFFF_FFFFUL : ulong.MaxValue;

    /// <summary>After a return to an outer privilege level, data segments the new CPL may not use become null.</summary>
    private void InvalidateSegmentsForOuterLevel()
    {
        foreach (int seg in stackalloc int[] { SegmentIndex.ES, SegmentIndex.DS, SegmentIndex.FS, SegmentIndex.GS })
        {
            ref SegmentRegister s = ref _state.Segments[seg];
            bool conformingCode = (s.Attributes & (DescriptorAttributes.Code | DescriptorAttributes.ExpandDownOrConforming)) == (DescriptorAttributes.Code | DescriptorAttributes.ExpandDownOrConforming);
            if ((s.Attributes & DescriptorAttributes.CodeOrData) != 0 && !conformingCode && s.Dpl < _state.Cpl)
                s = new SegmentRegister { Selector = 0 };
        }
    }
}
