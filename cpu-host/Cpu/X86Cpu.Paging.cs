namespace SplitEmu.CpuHost.Cpu;

// 32-bit paging (two levels, 4 KiB pages, 4 MiB pages with CR4.PSE, global pages with CR4.PGE). Walks set Accessed and Dirty bits.
public sealed unsafe partial class X86Cpu
{
    private const uint PtePresent = 1 << 0;
    private const uint PteWritable = 1 << 1;
    private const uint PteUser = 1 << 2;
    private const uint PteAccessed = 1 << 5;
    private const uint PteDirty = 1 << 6;
    private const uint PdeLargePage = 1 << 7;
    private const uint PteGlobal = 1 << 8;

    /// <summary>Whether the last successful translation came from a global page (G set and CR4.PGE on), for the TLB.</summary>
    private bool _translatedGlobal;

    /// <summary>#PF error code bits.</summary>
    private const uint PageFaultPresent = 1 << 0, PageFaultWrite = 1 << 1, PageFaultUser = 1 << 2;

    /// <summary>
    /// Translates a linear address. On a violation raises #PF (CR2 = linear, error code P/W/U) when
    /// <paramref name="raiseFault"/>, and returns false.
    /// </summary>
    private bool TranslateLinear(ulong linear, bool write, bool user, bool fetch, out ulong physical, bool raiseFault)
    {
        _translatedGlobal = false;
        if (!_state.PagingEnabled)
        {
            physical = linear;
            return true;
        }
        bool globalPages = (_state.Cr4 & ControlRegisters.Cr4Pge) != 0;

        uint la = (uint)linear;
        ulong pdeAddress = (_state.Cr3 & 0xFFFF_F000UL) + ((la >> 22) << 2);
        uint pde = (uint)ReadPhysical(pdeAddress, 4);
        if ((pde & PtePresent) == 0)
            return PageFault(la, write, user, present: false, raiseFault, out physical);

        bool writeProtect = (_state.Cr0 & ControlRegisters.Cr0Wp) != 0;
        if ((pde & PdeLargePage) != 0 && (_state.Cr4 & ControlRegisters.Cr4Pse) != 0)
        {
            if (!Permitted(pde, write, user, writeProtect))
                return PageFault(la, write, user, present: true, raiseFault, out physical);
            uint newPde = pde | PteAccessed | (write ? PteDirty : 0);
            if (newPde != pde)
                SetPagingBits(pdeAddress, newPde & ~pde);
            physical = (pde & 0xFFC0_0000UL) | (la & 0x003F_FFFFUL);
            _translatedGlobal = globalPages && (pde & PteGlobal) != 0;
            return true;
        }

        ulong pteAddress = (pde & 0xFFFF_F000UL) + (((la >> 12) & 0x3FF) << 2);
        uint pte = (uint)ReadPhysical(pteAddress, 4);
        if ((pte & PtePresent) == 0)
            return PageFault(la, write, user, present: false, raiseFault, out physical);
        // Both levels must allow the access.
        if (!Permitted(pde & pte, write, user, writeProtect))
            return PageFault(la, write, user, present: true, raiseFault, out physical);

        if ((pde & PteAccessed) == 0)
            SetPagingBits(pdeAddress, PteAccessed);
        uint newPte = pte | PteAccessed | (write ? PteDirty : 0);
        if (newPte != pte)
            SetPagingBits(pteAddress, newPte & ~pte);
        physical = (pte & 0xFFFF_F000UL) | (la & 0xFFFUL);
        _translatedGlobal = globalPages && (pte & PteGlobal) != 0;
        return true;
    }

    /// <summary>
    /// Sets Accessed/Dirty <paramref name="bits"/> in the paging entry at <paramref name="address"/> with a host atomic
    /// OR when it is in RAM, as the processor's locked update does: another CPU changing the entry at the same time
    /// (the OS clearing Present or Dirty with a locked instruction) loses nothing.
    /// </summary>
    private void SetPagingBits(ulong address, uint bits)
    {
        byte* page = (address & 3) == 0 ? _bus.GetRamPage(address, write: true) : null;
        if (page == null)
        {
            WritePhysical(address, 4, ReadPhysical(address, 4) | bits);
            return;
        }
        // SAFETY: a 4-byte aligned entry inside the RAM page the bus handed out.
        Interlocked.Or(ref *(uint*)(page + (address & 0xFFF)), bits);
        int holders = CodeHoldersAt(address);
        if (holders != 0)
            OnCodeWritten(address, 4, holders);
    }

    /// <summary>Access rights of a (combined) entry: user accesses need U; writes need W for users, and for supervisors when CR0.WP.</summary>
    private static bool Permitted(uint entry, bool write, bool user, bool writeProtect)
    {
        if (user && (entry & PteUser) == 0)
            return false;
        if (write && (entry & PteWritable) == 0 && (user || writeProtect))
            return false;
        return true;
    }

    private bool PageFault(uint linear, bool write, bool user, bool present, bool raise, out ulong physical)
    {
        physical = 0;
        if (raise && _faultVector < 0)
        {
            _state.Cr2 = linear;
            uint error = (present ? PageFaultPresent : 0) | (write ? PageFaultWrite : 0) | (user ? PageFaultUser : 0);
            RaiseFault(ExceptionVector.PageFault, error);
        }
        return false;
    }
}
