using System.Runtime.CompilerServices;

namespace SplitEmu.CpuHost.Cpu;

// Guest memory access: segment checks, then linear access through the TLB, then paging, then the bus.
public sealed unsafe partial class X86Cpu
{
    // ---- segment level ----

    /// <summary>The attribute bits <see cref="CheckSegmentAccess"/>'s one-mask fast path looks at.</summary>
    private const ushort FastCheckedAttributes = DescriptorAttributes.Present | DescriptorAttributes.CodeOrData | DescriptorAttributes.Code
                                                 | DescriptorAttributes.ExpandDownOrConforming | DescriptorAttributes.WritableOrReadable;

    /// <summary>A present, writable, expand-up data segment: what passes that fast path for reads and writes alike.</summary>
    private const ushort WritableDataAttributes = DescriptorAttributes.Present | DescriptorAttributes.CodeOrData | DescriptorAttributes.WritableOrReadable;

    /// <summary>Checks an access of <paramref name="size"/> bytes at seg:offset; raises #GP/#SS and returns false if not allowed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool CheckSegmentAccess(int seg, ulong offset, int size, bool write)
    {
        // Fast path, one mask test: a present, expand-up data segment that is writable (for writes), or any
        // present data segment or readable code segment (for reads). Real mode loads such attributes too;
        // everything else (real-mode writes through CS, expand-down, faults) takes the slow path.
        ref SegmentRegister s = ref _state.Segments[seg];
        const ushort readOnlyData = DescriptorAttributes.Present | DescriptorAttributes.CodeOrData;
        const ushort readableCode = DescriptorAttributes.Present | DescriptorAttributes.CodeOrData | DescriptorAttributes.Code | DescriptorAttributes.WritableOrReadable;
        int kind = s.Attributes & FastCheckedAttributes;
        bool typeOk = kind == WritableDataAttributes || (!write && (kind == readOnlyData || (kind & ~DescriptorAttributes.ExpandDownOrConforming) == readableCode));
        if (typeOk && offset + (ulong)(size - 1) <= s.Limit)
            return true;
        return CheckSegmentAccessSlow(seg, offset, size, write);
    }

    private bool AccessTypeAllowed(ref SegmentRegister s, bool write)
    {
        if (_state.Virtual8086)
            return true;
        if (!s.Present || (s.Attributes & DescriptorAttributes.CodeOrData) == 0)
            return false; // null (unusable) or system descriptor
        if (write)
            return (s.Attributes & (DescriptorAttributes.Code | DescriptorAttributes.WritableOrReadable)) == DescriptorAttributes.WritableOrReadable;
        return (s.Attributes & DescriptorAttributes.Code) == 0 || (s.Attributes & DescriptorAttributes.WritableOrReadable) != 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool CheckSegmentAccessSlow(int seg, ulong offset, int size, bool write)
    {
        ref SegmentRegister s = ref _state.Segments[seg];
        bool ok = !_state.ProtectedMode || AccessTypeAllowed(ref s, write);
        if (ok)
        {
            ulong last = offset + (ulong)(size - 1);
            if (s.IsExpandDown)
            {
                ulong upper = s.Big ? 0xFFFF_FFFFUL : 0xFFFFUL;
                ok = offset > s.Limit && last <= upper;
            }
            else
            {
                ok = last <= s.Limit;
            }
        }
        if (ok)
            return true;
        // Real mode reports every segment overrun, stack included, as interrupt 13 (80286/80386 behaviour,
        // confirmed by the hardware-generated 80286 tests); protected mode uses #SS for the stack segment.
        bool stackFault = seg == SegmentIndex.SS && _state.ProtectedMode && !_state.Virtual8086;
        RaiseFault(stackFault ? ExceptionVector.StackFault : ExceptionVector.GeneralProtection, 0);
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong LinearOf(int seg, ulong offset) => (_state.Segments[seg].Base + offset) & 0xFFFF_FFFFUL;

    /// <summary>Reads seg:offset; returns 0 with a fault recorded if the access is not allowed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadSegment(int seg, ulong offset, int size)
    {
        if (!CheckSegmentAccess(seg, offset, size, write: false))
            return 0;
        return ReadLinear(LinearOf(seg, offset), size, _state.Cpl == 3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteSegment(int seg, ulong offset, int size, ulong value)
    {
        if (!CheckSegmentAccess(seg, offset, size, write: true))
            return;
        WriteLinear(LinearOf(seg, offset), size, value, _state.Cpl == 3);
    }

    /// <summary>True if seg:offset could be written (segment and page checks, faults raised); nothing is read or written.</summary>
    private bool ProbeSegmentWritable(int seg, ulong offset, int size)
        => CheckSegmentAccess(seg, offset, size, write: true) && ProbeWritable(LinearOf(seg, offset), size, _state.Cpl == 3);

    /// <summary>Checks that seg:offset can be written (segment and page) without writing it: the read half of read-modify-write.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadSegmentForWrite(int seg, ulong offset, int size)
    {
        if (!CheckSegmentAccess(seg, offset, size, write: true))
            return 0;
        ulong linear = LinearOf(seg, offset);
        bool user = _state.Cpl == 3;
        if (!ProbeWritable(linear, size, user))
            return 0;
        return ReadLinear(linear, size, user);
    }

    // ---- linear level ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ulong ReadLinear(ulong linear, int size, bool user)
    {
        if ((linear & 0xFFF) <= (ulong)(0x1000 - size))
        {
            byte* p = _tlb.LookupRead(linear, user);
            if (p != null)
            {
                switch (size)
                {
                    case 1: return *p;
                    case 2: return Unsafe.ReadUnaligned<ushort>(p);
                    case 4: return Unsafe.ReadUnaligned<uint>(p);
                    default: return Unsafe.ReadUnaligned<ulong>(p);
                }
            }
        }
        return ReadLinearSlow(linear, size, user);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void WriteLinear(ulong linear, int size, ulong value, bool user)
    {
        if ((linear & 0xFFF) <= (ulong)(0x1000 - size))
        {
            byte* p = _tlb.LookupWrite(linear, user);
            if (p != null)
            {
                switch (size)
                {
                    case 1: *p = (byte)value; return;
                    case 2: Unsafe.WriteUnaligned(p, (ushort)value); return;
                    case 4: Unsafe.WriteUnaligned(p, (uint)value); return;
                    default: Unsafe.WriteUnaligned(p, value); return;
                }
            }
        }
        WriteLinearSlow(linear, size, value, user);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadLinearSlow(ulong linear, int size, bool user)
    {
        if ((linear & 0xFFF) + (ulong)size > 0x1000)
        {
            // Crosses a page: translate both pages before touching either, then go byte by byte.
            ulong secondPage = (linear | 0xFFF) + 1;
            if (!TranslateLinear(linear, false, user, false, out _, true) || !TranslateLinear(secondPage & 0xFFFF_FFFFUL, false, user, false, out _, true))
                return 0;
            ulong value = 0;
            for (int i = 0; i < size; i++)
                value |= ReadLinearSlow((linear + (ulong)i) & 0xFFFF_FFFFUL, 1, user) << (8 * i);
            return value;
        }

        if (!TranslateLinear(linear, false, user, false, out ulong physical, true))
            return 0;
        byte* page = _bus.GetRamPage(physical, write: false);
        if (page != null)
        {
            _tlb.FillRead(linear, user, physical, page, _translatedGlobal);
            return ReadLinear(linear, size, user);
        }
        ulong mmio = _bus.ReadMemory(physical, size);
        EndBlockAfterDeviceAccess();
        return mmio;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteLinearSlow(ulong linear, int size, ulong value, bool user)
    {
        if ((linear & 0xFFF) + (ulong)size > 0x1000)
        {
            ulong secondPage = ((linear | 0xFFF) + 1) & 0xFFFF_FFFFUL;
            if (!TranslateLinear(linear, true, user, false, out _, true) || !TranslateLinear(secondPage, true, user, false, out _, true))
                return;
            for (int i = 0; i < size; i++)
                WriteLinearSlow((linear + (ulong)i) & 0xFFFF_FFFFUL, 1, value >> (8 * i), user);
            return;
        }

        if (!TranslateLinear(linear, true, user, false, out ulong physical, true))
            return;
        WritePhysical(physical, size, value);
        byte* page = _bus.GetRamPage(physical, write: true);
        if (page != null && !_domain.IsCodePage(physical))
            _tlb.FillWrite(linear, user, physical, page, _translatedGlobal);
    }

    /// <summary>True if every byte of the range may be written (raises #PF otherwise); used before read-modify-write.</summary>
    private bool ProbeWritable(ulong linear, int size, bool user)
    {
        if ((linear & 0xFFF) <= (ulong)(0x1000 - size) && _tlb.LookupWrite(linear, user) != null)
            return true;
        if (!TranslateLinear(linear, true, user, false, out _, true))
            return false;
        ulong last = (linear + (ulong)(size - 1)) & 0xFFFF_FFFFUL;
        return (last >> 12) == (linear >> 12) || TranslateLinear(last, true, user, false, out _, true);
    }

    // ---- physical level ----

    private ulong ReadPhysical(ulong physical, int size)
    {
        if ((physical & 0xFFF) + (ulong)size <= 0x1000)
        {
            byte* page = _bus.GetRamPage(physical, write: false);
            if (page != null)
            {
                byte* p = page + (physical & 0xFFF);
                return size switch
                {
                    1 => *p,
                    2 => Unsafe.ReadUnaligned<ushort>(p),
                    4 => Unsafe.ReadUnaligned<uint>(p),
                    _ => Unsafe.ReadUnaligned<ulong>(p),
                };
            }
            return _bus.ReadMemory(physical, size);
        }
        ulong value = 0;
        for (int i = 0; i < size; i++)
            value |= ReadPhysical(physical + (ulong)i, 1) << (8 * i);
        return value;
    }

    /// <summary>Writes guest-physical memory and drops cached decodings of the bytes written, this CPU's and the others'.</summary>
    private void WritePhysical(ulong physical, int size, ulong value)
    {
        if ((physical & 0xFFF) + (ulong)size <= 0x1000)
        {
            byte* page = _bus.GetRamPage(physical, write: true);
            if (page != null)
            {
                byte* p = page + (physical & 0xFFF);
                switch (size)
                {
                    case 1: *p = (byte)value; break;
                    case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
                    case 4: Unsafe.WriteUnaligned(p, (uint)value); break;
                    default: Unsafe.WriteUnaligned(p, value); break;
                }
                int holders = CodeHoldersAt(physical);
                if (holders != 0)
                    OnCodeWritten(physical, size, holders);
            }
            else
            {
                _bus.WriteMemory(physical, size, value);
                EndBlockAfterDeviceAccess();
            }
            return;
        }
        for (int i = 0; i < size; i++)
            WritePhysical(physical + (ulong)i, 1, value >> (8 * i));
    }

    /// <summary>
    /// A device access may change the memory map (a device unplugging itself); the interpreter checks the map
    /// before each instruction, a translated block only at its start, so it must leave the block here.
    /// </summary>
    private void EndBlockAfterDeviceAccess()
    {
        if (_translations is not null)
            _eventsPending = 1;
    }

    // ---- system accesses (descriptor tables, TSS, IDT): always supervisor, no segment checks ----

    private ulong ReadSystem(ulong linear, int size) => ReadLinear(linear & 0xFFFF_FFFFUL, size, user: false);

    private void WriteSystem(ulong linear, int size, ulong value) => WriteLinear(linear & 0xFFFF_FFFFUL, size, value, user: false);
}
