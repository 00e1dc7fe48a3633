using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace SplitEmu.CpuHost.Cpu;

// LOCK'ed read-modify-write instructions and XCHG with memory: atomic across the CPUs of the coherence domain, as
// QEMU's MTTCG does it: compute from the old value, commit with a host compare-and-swap, retry from the value found.
public sealed unsafe partial class X86Cpu
{
    /// <summary>
    /// A read-modify-write of memory that must be atomic: XCHG with memory (always locked) or a LOCK prefix on one of
    /// the instructions that take it. Iced has already turned a LOCK anywhere else (a register destination, MOV...)
    /// into an invalid instruction, which raises #UD.
    /// </summary>
    private static bool IsLockedMemoryOperation(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Xchg:
                return i.Op0Kind == OpKind.Memory || i.Op1Kind == OpKind.Memory;
            case Mnemonic.Add: case Mnemonic.Adc: case Mnemonic.And: case Mnemonic.Btc: case Mnemonic.Btr: case Mnemonic.Bts:
            case Mnemonic.Cmpxchg: case Mnemonic.Cmpxchg8b: case Mnemonic.Dec: case Mnemonic.Inc: case Mnemonic.Neg:
            case Mnemonic.Not: case Mnemonic.Or: case Mnemonic.Sbb: case Mnemonic.Sub: case Mnemonic.Xor: case Mnemonic.Xadd:
                return i.HasLockPrefix && i.Op0Kind == OpKind.Memory;
            default:
                return false;
        }
    }

    /// <summary>
    /// Runs a locked read-modify-write (<see cref="FastOp.Locked"/>): operands are read first, the memory operand is
    /// updated atomically, and flags and registers are set from the value that was actually replaced. A fault on the
    /// memory operand leaves everything unchanged.
    /// </summary>
    private void ExecuteLocked(ref DecodedInstruction d)
    {
        ref Instruction i = ref d.Instruction;
        Mnemonic m = i.Mnemonic;
        int size = m == Mnemonic.Cmpxchg8b ? 8 : d.OperandSize;
        int seg = MemorySegment(ref d);
        ulong ea = EffectiveAddress(ref d);
        ulong src = 0, compare = 0;
        Register register = Register.None;
        switch (m)
        {
            case Mnemonic.Bts: case Mnemonic.Btr: case Mnemonic.Btc:
            {
                int bits = size * 8;
                ulong offset = ReadOperand(ref d, 1, size);
                if (i.Op1Kind == OpKind.Register)
                {
                    // A register bit offset is signed and may reach outside the addressed operand (as in ExecuteBitTest).
                    long signedOffset = SignExtend(offset, size);
                    ea = (ea + (ulong)((signedOffset >> BitOperations.Log2((uint)bits)) * size)) & AddressMask(d.AddressSize);
                }
                src = 1UL << (int)(offset & (ulong)(bits - 1));
                break;
            }
            case Mnemonic.Xadd: case Mnemonic.Cmpxchg:
                register = i.Op1Register;
                src = ReadRegister(register);
                compare = ReadGpr(Gpr.Rax, size);
                break;
            case Mnemonic.Cmpxchg8b:
                compare = ((ulong)(uint)_state.Gpr[Gpr.Rdx] << 32) | (uint)_state.Gpr[Gpr.Rax];
                src = ((ulong)(uint)_state.Gpr[Gpr.Rcx] << 32) | (uint)_state.Gpr[Gpr.Rbx];
                break;
            case Mnemonic.Xchg:
                register = i.Op0Kind == OpKind.Register ? i.Op0Register : i.Op1Register;
                src = ReadRegister(register);
                break;
            case Mnemonic.Inc: case Mnemonic.Dec: case Mnemonic.Neg: case Mnemonic.Not:
                break;
            default: // the ALU operations: a register or an immediate source
                src = ReadOperand(ref d, 1, size);
                break;
        }
        bool carry = m is Mnemonic.Adc or Mnemonic.Sbb && GetCF();
        if (!LockedReadModifyWrite(seg, ea, size, m, src, compare, carry, out ulong old, out ulong result))
            return;

        switch (m)
        {
            case Mnemonic.Add: Alu(AluOp.Add, size, old, src); break;
            case Mnemonic.Or: Alu(AluOp.Or, size, old, src); break;
            case Mnemonic.Adc: Alu(AluOp.Adc, size, old, src); break; // the CF it reads is still the instruction's
            case Mnemonic.Sbb: Alu(AluOp.Sbb, size, old, src); break;
            case Mnemonic.And: Alu(AluOp.And, size, old, src); break;
            case Mnemonic.Sub: Alu(AluOp.Sub, size, old, src); break;
            case Mnemonic.Xor: Alu(AluOp.Xor, size, old, src); break;
            case Mnemonic.Inc: SetIncDecFlags(LazyFlagsOp.Inc, size, result, old); break;
            case Mnemonic.Dec: SetIncDecFlags(LazyFlagsOp.Dec, size, result, old); break;
            case Mnemonic.Neg: SetLazyFlags(LazyFlagsOp.Sub, size, result, 0, old); break;
            case Mnemonic.Not: break;
            case Mnemonic.Bts: case Mnemonic.Btr: case Mnemonic.Btc: SetFlag(EflagsBits.CF, (old & src) != 0); break;
            case Mnemonic.Xadd:
                WriteRegister(register, old);
                SetLazyFlags(LazyFlagsOp.Add, size, result, old, src);
                break;
            case Mnemonic.Cmpxchg:
                SetLazyFlags(LazyFlagsOp.Sub, size, (compare - old) & SizeMask(size), compare, old);
                if (compare != old)
                    WriteGpr(Gpr.Rax, size, old);
                break;
            case Mnemonic.Cmpxchg8b:
                MaterializeFlags();
                if (compare == old)
                {
                    _state.Eflags |= EflagsBits.ZF;
                }
                else
                {
                    _state.Eflags &= ~EflagsBits.ZF;
                    WriteGpr(Gpr.Rax, 4, (uint)old);
                    WriteGpr(Gpr.Rdx, 4, old >> 32);
                }
                break;
            default: // XCHG
                WriteRegister(register, old);
                break;
        }
    }

    /// <summary>The new memory value of a locked operation on <paramref name="old"/> (flags are set after the commit).</summary>
    private static ulong LockedResult(Mnemonic m, int size, ulong old, ulong src, ulong compare, bool carry)
    {
        ulong mask = SizeMask(size);
        ulong c = carry ? 1UL : 0UL;
        return m switch
        {
            Mnemonic.Add or Mnemonic.Xadd => (old + src) & mask,
            Mnemonic.Adc => (old + src + c) & mask,
            Mnemonic.Sub => (old - src) & mask,
            Mnemonic.Sbb => (old - src - c) & mask,
            Mnemonic.And => old & src,
            Mnemonic.Or => old | src,
            Mnemonic.Xor => old ^ src,
            Mnemonic.Inc => (old + 1) & mask,
            Mnemonic.Dec => (old - 1) & mask,
            Mnemonic.Neg => (0 - old) & mask,
            Mnemonic.Not => ~old & mask,
            Mnemonic.Bts => old | src,
            Mnemonic.Btr => old & ~src,
            Mnemonic.Btc => old ^ src,
            Mnemonic.Cmpxchg or Mnemonic.Cmpxchg8b => old == compare ? src : old,
            _ => src, // XCHG
        };
    }

    /// <summary>
    /// Replaces seg:offset's <paramref name="size"/> bytes atomically with <see cref="LockedResult"/> of them: a host
    /// compare-and-swap when the operand lies in one aligned unit of up to 8 bytes of a RAM page, else under the
    /// domain's split lock. False (nothing written) if the access faulted.
    /// </summary>
    private bool LockedReadModifyWrite(int seg, ulong offset, int size, Mnemonic m, ulong src, ulong compare, bool carry,
                                       out ulong old, out ulong result)
    {
        old = result = 0;
        if (!CheckSegmentAccess(seg, offset, size, write: true))
            return false;
        ulong linear = LinearOf(seg, offset);
        bool user = _state.Cpl == 3;
        ulong pageOffset = linear & 0xFFF;
        if (pageOffset > (ulong)(0x1000 - size))
            return SplitLockedReadModifyWrite(seg, offset, size, m, src, compare, carry, out old, out result); // crosses a page

        // A write TLB hit is a RAM page nobody has code from; else translate (faults are raised here, before any write).
        byte* p = _tlb.LookupWrite(linear, user);
        ulong physical = 0;
        bool slowPath = p == null;
        if (slowPath)
        {
            if (!TranslateLinear(linear, write: true, user, fetch: false, out physical, raiseFault: true))
                return false;
            byte* page = _bus.GetRamPage(physical, write: true);
            if (page == null)
                return SplitLockedReadModifyWrite(seg, offset, size, m, src, compare, carry, out old, out result); // MMIO, ROM
            if (!_domain.IsCodePage(physical))
                _tlb.FillWrite(linear, user, physical, page, _translatedGlobal);
            p = page + pageOffset;
        }
        if (!TryCompareAndSwapLoop(p, pageOffset, size, m, src, compare, carry, out old, out result))
            return SplitLockedReadModifyWrite(seg, offset, size, m, src, compare, carry, out old, out result);
        if (slowPath)
        {
            int holders = CodeHoldersAt(physical);
            if (holders != 0)
                OnCodeWritten(physical, size, holders);
        }
        return true;
    }

    /// <summary>
    /// The compare-and-swap loop on host memory at <paramref name="p"/> (<paramref name="pageOffset"/> into its page):
    /// on the operand itself when it is naturally aligned, else on the smallest aligned unit of 2, 4 or 8 bytes that
    /// contains it (the bytes around it are swapped back unchanged). False if no such unit lies within the page.
    /// </summary>
    private static bool TryCompareAndSwapLoop(byte* p, ulong pageOffset, int size, Mnemonic m, ulong src, ulong compare, bool carry,
                                              out ulong old, out ulong result)
    {
        nuint address = (nuint)p;
        int unit = size;
        while ((address & ~(nuint)(unit - 1)) + (nuint)unit < address + (nuint)size)
        {
            unit *= 2;
            if (unit > 8)
            {
                old = result = 0;
                return false; // straddles an 8-byte boundary: no single host compare-and-swap covers it
            }
        }
        byte* start = (byte*)(address & ~(nuint)(unit - 1));
        byte* pageStart = p - pageOffset;
        if (start < pageStart || start + unit > pageStart + 0x1000)
        {
            old = result = 0;
            return false; // a host page not aligned to the unit (never for the machine's RAM, which is page-aligned)
        }

        int shift = (int)(address - (nuint)start) * 8;
        ulong mask = SizeMask(size);
        ulong operandMask = mask << shift;
        // SAFETY: start..start+unit lies within the RAM page the bus handed out (checked above), aligned to unit.
        ulong unitOld = unit switch
        {
            1 => Volatile.Read(ref *start),
            2 => Volatile.Read(ref *(ushort*)start),
            4 => Volatile.Read(ref *(uint*)start),
            _ => Volatile.Read(ref *(ulong*)start),
        };
        while (true)
        {
            old = (unitOld >> shift) & mask;
            result = LockedResult(m, size, old, src, compare, carry);
            ulong unitNew = (unitOld & ~operandMask) | (result << shift);
            ulong seen = CompareExchange(start, unit, unitNew, unitOld);
            if (seen == unitOld)
                return true;
            unitOld = seen; // another CPU changed it: compute again from what it left
        }
    }

    /// <summary>A host compare-and-swap of an aligned 1, 2, 4 or 8-byte unit; returns the value found.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong CompareExchange(byte* unit, int size, ulong value, ulong comparand) => size switch
    {
        // SAFETY: the caller checked that unit is aligned to size and inside a RAM page.
        1 => Interlocked.CompareExchange(ref *unit, (byte)value, (byte)comparand),
        2 => Interlocked.CompareExchange(ref *(ushort*)unit, (ushort)value, (ushort)comparand),
        4 => Interlocked.CompareExchange(ref *(uint*)unit, (uint)value, (uint)comparand),
        _ => Interlocked.CompareExchange(ref *(ulong*)unit, value, comparand),
    };

    /// <summary>
    /// A locked operation no host compare-and-swap can do (it crosses a page or an 8-byte boundary, or is not RAM):
    /// the ordinary read and write under the domain's split lock (see <see cref="CoherenceDomain"/>'s remarks).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool SplitLockedReadModifyWrite(int seg, ulong offset, int size, Mnemonic m, ulong src, ulong compare, bool carry,
                                            out ulong old, out ulong result)
    {
        lock (_domain.SplitLock)
        {
            old = ReadSegmentForWrite(seg, offset, size); // checks both pages are writable first: a fault writes nothing
            if (Faulted)
            {
                result = 0;
                return false;
            }
            result = LockedResult(m, size, old, src, compare, carry);
            WriteSegment(seg, offset, size, result);
            return !Faulted;
        }
    }
}
