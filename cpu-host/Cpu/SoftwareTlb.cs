using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// Direct-mapped cache from linear page to host pointer for RAM pages, one set for reads (and fetches),
/// one for writes. A tag combines the linear page number and the user/supervisor bit of the access, so
/// CPL changes need no flush. Pages that are not RAM, or hold cached code (writes), are never entered:
/// those accesses take the slow path. Entries from global pages (CR4.PGE) survive <see cref="FlushNonGlobal"/>,
/// what a CR3 load does; INVLPG and <see cref="Flush"/> drop them too.
/// </summary>
internal sealed unsafe class SoftwareTlb
{
    private const int EntryBits = 8;
    private const int EntryMask = (1 << EntryBits) - 1;
    private const ulong InvalidTag = ulong.MaxValue;

    private readonly ulong[] _readTags = new ulong[1 << EntryBits];
    private readonly nint[] _readPages = new nint[1 << EntryBits];
    private readonly ulong[] _readPhysical = new ulong[1 << EntryBits];
    private readonly ulong[] _writeTags = new ulong[1 << EntryBits];
    private readonly nint[] _writePages = new nint[1 << EntryBits];
    private readonly ulong[] _writePhysical = new ulong[1 << EntryBits];
    private readonly bool[] _readGlobal = new bool[1 << EntryBits];
    private readonly bool[] _writeGlobal = new bool[1 << EntryBits];
    /// <summary>Tag and physical page of the last instruction fetch that hit (a one-entry fetch TLB).</summary>
    private ulong _lastFetchTag = InvalidTag;
    private ulong _lastFetchPhysical;

    public SoftwareTlb() => Flush();

    /// <summary>Mask of a linear page number to its entry (the translator's inline lookups index the tables with it).</summary>
    public const int IndexMask = EntryMask;

    /// <summary>The read tags, indexed by linear page number and <see cref="IndexMask"/>; for the translator's inline lookups.</summary>
    public ulong[] ReadTags => _readTags;

    /// <summary>Host addresses of the pages <see cref="ReadTags"/> name.</summary>
    public nint[] ReadPages => _readPages;

    /// <summary>The write tags (pages holding translated code are never entered: their writes go the slow way).</summary>
    public ulong[] WriteTags => _writeTags;

    /// <summary>Host addresses of the pages <see cref="WriteTags"/> name.</summary>
    public nint[] WritePages => _writePages;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Tag(ulong linear, bool user) => ((linear >> 12) << 1) | (user ? 1UL : 0UL);

    /// <summary>Host pointer to the byte at <paramref name="linear"/> for reading, or null on a miss.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* LookupRead(ulong linear, bool user)
    {
        int i = (int)(linear >> 12) & EntryMask;
        // SAFETY: i is masked to the array length.
        if (Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_readTags), i) != Tag(linear, user))
            return null;
        return (byte*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_readPages), i) + (linear & 0xFFF);
    }

    /// <summary>As <see cref="LookupRead"/>, also returning the physical address (for the instruction cache).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLookupFetch(ulong linear, bool user, out ulong physical)
    {
        // Consecutive instructions almost always share a page: check the last fetch page first.
        ulong tag = Tag(linear, user);
        if (tag == _lastFetchTag)
        {
            physical = _lastFetchPhysical | (linear & 0xFFF);
            return true;
        }
        return TryLookupFetchInTable(linear, tag, out physical);
    }

    private bool TryLookupFetchInTable(ulong linear, ulong tag, out ulong physical)
    {
        int i = (int)(linear >> 12) & EntryMask;
        // SAFETY: i is masked to the array length.
        if (Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_readTags), i) != tag)
        {
            physical = 0;
            return false;
        }
        _lastFetchTag = tag;
        _lastFetchPhysical = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_readPhysical), i);
        physical = _lastFetchPhysical | (linear & 0xFFF);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* LookupWrite(ulong linear, bool user)
    {
        int i = (int)(linear >> 12) & EntryMask;
        // SAFETY: i is masked to the array length.
        if (Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_writeTags), i) != Tag(linear, user))
            return null;
        return (byte*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_writePages), i) + (linear & 0xFFF);
    }

    public void FillRead(ulong linear, bool user, ulong physicalPage, byte* page, bool global)
    {
        int i = (int)(linear >> 12) & EntryMask;
        if (_readTags[i] == _lastFetchTag)
            _lastFetchTag = InvalidTag; // the entry it mirrors is being replaced
        _readTags[i] = Tag(linear, user);
        _readPages[i] = (nint)page;
        _readPhysical[i] = physicalPage & ~0xFFFUL;
        _readGlobal[i] = global;
    }

    public void FillWrite(ulong linear, bool user, ulong physicalPage, byte* page, bool global)
    {
        int i = (int)(linear >> 12) & EntryMask;
        _writeTags[i] = Tag(linear, user);
        _writePages[i] = (nint)page;
        _writePhysical[i] = physicalPage & ~0xFFFUL;
        _writeGlobal[i] = global;
    }

    /// <summary>Removes write entries that point at a physical page (it now holds cached code).</summary>
    public void DropWritesToPhysicalPage(ulong physicalAddress)
    {
        ulong page = physicalAddress & ~0xFFFUL;
        for (int i = 0; i < _writeTags.Length; i++)
        {
            if (_writeTags[i] != InvalidTag && _writePhysical[i] == page)
                _writeTags[i] = InvalidTag;
        }
    }

    /// <summary>Removes write entries for pages that some CPU of <paramref name="domain"/> now has code from.</summary>
    public void DropWritesToCodePages(CoherenceDomain domain)
    {
        for (int i = 0; i < _writeTags.Length; i++)
        {
            if (_writeTags[i] != InvalidTag && domain.IsCodePage(_writePhysical[i]))
                _writeTags[i] = InvalidTag;
        }
    }

    /// <summary>Drops the entries for one linear page (INVLPG).</summary>
    public void FlushPage(ulong linear)
    {
        int i = (int)(linear >> 12) & EntryMask;
        _readTags[i] = InvalidTag;
        _writeTags[i] = InvalidTag;
        _lastFetchTag = InvalidTag;
    }

    /// <summary>Drops every entry that did not come from a global page (a CR3 load with CR4.PGE set).</summary>
    public void FlushNonGlobal()
    {
        for (int i = 0; i < _readTags.Length; i++)
        {
            if (!_readGlobal[i])
                _readTags[i] = InvalidTag;
            if (!_writeGlobal[i])
                _writeTags[i] = InvalidTag;
        }
        _lastFetchTag = InvalidTag;
    }

    public void Flush()
    {
        Array.Fill(_readTags, InvalidTag);
        Array.Fill(_writeTags, InvalidTag);
        _lastFetchTag = InvalidTag;
    }
}
