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

        for (int iteration = 0; iteration < MaxRepIterationsPerStep; iteration++)
        {
            ulong si = ReadGpr(Gpr.Rsi, addressSize);
            ulong di = ReadGpr(Gpr.Rdi, addressSize);
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
}
