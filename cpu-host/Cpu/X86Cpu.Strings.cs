using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// String instructions (MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS) with REP/REPE/REPNE.
public sealed partial class X86Cpu
{
    private void ExecuteString(ref DecodedInstruction d, int size)
    {
        ref Instruction i = ref d.Instruction;
        Mnemonic m = i.Mnemonic;
        int addressSize = d.AddressSize;
        ulong addressMask = AddressMask(addressSize);
        bool repeated = i.HasRepPrefix || i.HasRepnePrefix;
        bool compares = m is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq
            or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq;
        bool isIn = m is Mnemonic.Insb or Mnemonic.Insw or Mnemonic.Insd;
        bool isOut = m is Mnemonic.Outsb or Mnemonic.Outsw or Mnemonic.Outsd;
        if ((isIn || isOut) && !IoPermitted((ushort)_state.Gpr[Gpr.Rdx], size))
            return;

        int sourceSegment = i.MemorySegment - Register.ES;
        ulong delta = (_state.Eflags & EflagsBits.DF) != 0 ? (ulong)-size : (ulong)size;
        ulong count = repeated ? ReadGpr(Gpr.Rcx, addressSize) : 1;
        if (count == 0)
            return;

        bool bulkCandidate = repeated && (_state.Eflags & EflagsBits.DF) == 0
            && m is Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd;
        for (int iteration = 0; iteration < MaxRepIterationsPerStep; iteration++)
        {
            ulong si = ReadGpr(Gpr.Rsi, addressSize);
            ulong di = ReadGpr(Gpr.Rdi, addressSize);
            if (bulkCandidate)
            {
                ulong done = RepeatInRam(m, size, sourceSegment, si, di, count, addressMask);
                if (done > 0)
                {
                    ulong bytes = done * (ulong)size;
                    if (m is Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd)
                        WriteGpr(Gpr.Rsi, addressSize, (si + bytes) & addressMask);
                    WriteGpr(Gpr.Rdi, addressSize, (di + bytes) & addressMask);
                    count -= done;
                    WriteGpr(Gpr.Rcx, addressSize, count);
                    if (count == 0)
                        return;
                    iteration += (int)done - 1;
                    continue;
                }
            }
            bool usesSi = false, usesDi = false;
            switch (m)
            {
                case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsd: case Mnemonic.Movsq:
                {
                    ulong v = ReadSegment(sourceSegment, si, size);
                    if (Faulted) return;
                    WriteSegment(SegmentIndex.ES, di, size, v);
                    usesSi = usesDi = true;
                    break;
                }
                case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsd: case Mnemonic.Cmpsq:
                {
                    ulong a = ReadSegment(sourceSegment, si, size);
                    ulong b = ReadSegment(SegmentIndex.ES, di, size);
                    if (Faulted) return;
                    SetLazyFlags(LazyFlagsOp.Sub, size, (a - b) & SizeMask(size), a, b);
                    usesSi = usesDi = true;
                    break;
                }
                case Mnemonic.Scasb: case Mnemonic.Scasw: case Mnemonic.Scasd: case Mnemonic.Scasq:
                {
                    ulong a = ReadGpr(Gpr.Rax, size);
                    ulong b = ReadSegment(SegmentIndex.ES, di, size);
                    if (Faulted) return;
                    SetLazyFlags(LazyFlagsOp.Sub, size, (a - b) & SizeMask(size), a, b);
                    usesDi = true;
                    break;
                }
                case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd: case Mnemonic.Lodsq:
                {
                    ulong v = ReadSegment(sourceSegment, si, size);
                    if (Faulted) return;
                    WriteGpr(Gpr.Rax, size, v);
                    usesSi = true;
                    break;
                }
                case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd: case Mnemonic.Stosq:
                    WriteSegment(SegmentIndex.ES, di, size, ReadGpr(Gpr.Rax, size));
                    usesDi = true;
                    break;
                case Mnemonic.Insb: case Mnemonic.Insw: case Mnemonic.Insd:
                {
                    // The destination is checked before the port is read, so a fault does not lose input.
                    if (!CheckSegmentAccess(SegmentIndex.ES, di, size, write: true) || !ProbeWritable(LinearOf(SegmentIndex.ES, di), size, _state.Cpl == 3))
                        return;
                    uint v = _bus.ReadPort((ushort)_state.Gpr[Gpr.Rdx], size);
                    WriteSegment(SegmentIndex.ES, di, size, v);
                    usesDi = true;
                    break;
                }
                default: // OUTS
                {
                    ulong v = ReadSegment(sourceSegment, si, size);
                    if (Faulted) return;
                    _bus.WritePort((ushort)_state.Gpr[Gpr.Rdx], size, (uint)v);
                    usesSi = true;
                    break;
                }
            }
            if (Faulted)
                return;
            if (usesSi)
                WriteGpr(Gpr.Rsi, addressSize, (si + delta) & addressMask);
            if (usesDi)
                WriteGpr(Gpr.Rdi, addressSize, (di + delta) & addressMask);
            if (!repeated)
                return;
            count = (count - 1) & addressMask;
            WriteGpr(Gpr.Rcx, addressSize, count);
            if (count == 0)
                return;
            if (compares && (i.HasRepePrefix ? !GetZF() : GetZF()))
                return;
        }
        // Budget for this step used: run the same instruction again (interrupts may come in between).
        _nextIp = _instructionIp;
    }

    /// <summary>
    /// Fast path for REP MOVS/STOS going up through RAM: does as many elements as fit in the current source and
    /// destination pages with one block copy or fill, when both pages have TLB entries (so they are RAM, the
    /// access rights were checked, and the destination holds no cached code) and the segment checks pass.
    /// Returns 0 when it cannot, and the element-by-element loop takes over (for faults, MMIO, page-straddling
    /// elements, and forward overlaps such as MOVSB with DI = SI + 1, which must replicate bytes).
    /// </summary>
    private unsafe ulong RepeatInRam(Mnemonic m, int size, int sourceSegment, ulong si, ulong di, ulong count, ulong addressMask)
    {
        bool user = _state.Cpl == 3;
        ulong destinationLinear = LinearOf(SegmentIndex.ES, di);
        ulong elements = Math.Min(count, (0x1000 - (destinationLinear & 0xFFF)) / (ulong)size);
        bool moves = m is Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd;
        ulong sourceLinear = 0;
        if (moves)
        {
            sourceLinear = LinearOf(sourceSegment, si);
            elements = Math.Min(elements, (0x1000 - (sourceLinear & 0xFFF)) / (ulong)size);
        }
        elements = Math.Min(elements, MaxRepIterationsPerStep);
        if (elements < 2)
            return 0;
        ulong bytes = elements * (ulong)size;
        if (di + bytes - 1 > addressMask || (moves && si + bytes - 1 > addressMask))
            return 0; // the offset would wrap within the segment

        byte* destination = _tlb.LookupWrite(destinationLinear, user);
        if (destination == null || !CheckSegmentAccess(SegmentIndex.ES, di, (int)bytes, write: true))
        {
            _faultVector = -1; // the element loop will raise the right fault at the right element
            return 0;
        }
        if (moves)
        {
            byte* source = _tlb.LookupRead(sourceLinear, user);
            if (source == null || !CheckSegmentAccess(sourceSegment, si, (int)bytes, write: false))
            {
                _faultVector = -1;
                return 0;
            }
            if (destination > source && destination < source + bytes)
                return 0;
            // SAFETY: both ranges lie within single RAM pages the TLB maps; overlap is backward-safe (memmove).
            Buffer.MemoryCopy(source, destination, bytes, bytes);
            return elements;
        }

        ulong value = _state.Gpr[Gpr.Rax];
        // SAFETY: the range lies within one RAM page the TLB maps for writing.
        switch (size)
        {
            case 1: new Span<byte>(destination, (int)bytes).Fill((byte)value); break;
            case 2: new Span<ushort>(destination, (int)elements).Fill((ushort)value); break;
            default: new Span<uint>(destination, (int)elements).Fill((uint)value); break;
        }
        return elements;
    }
}
