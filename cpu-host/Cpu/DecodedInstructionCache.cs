using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SplitEmu.CpuHost.Cpu;

/// <summary>
/// Decoded instructions keyed by the physical address of their first byte (direct-mapped), plus a map
/// of the physical pages that hold cached code so guest writes there can drop stale decodings. The map is
/// mirrored in the CPU's <see cref="CoherenceDomain"/> (a bit per CPU), so other CPUs know whom to tell.
/// </summary>
/// <remarks>
/// Only instructions that lie entirely within one RAM page are cached, so a write invalidates at most the
/// instructions that start in the 15 bytes before it (or in the tail of the previous page) up to its end.
/// </remarks>
internal sealed class DecodedInstructionCache
{
    public const ulong EmptyTag = ulong.MaxValue;
    private const int EntryBits = 16;
    private const int EntryMask = (1 << EntryBits) - 1;
    private const int MaxInstructionLength = 15;
    /// <summary>Code pages are tracked for the first 4 GiB of physical space; code above it is not cached.</summary>
    private const ulong TrackedPhysicalLimit = 1UL << 32;

    private readonly DecodedInstruction[] _entries = new DecodedInstruction[1 << EntryBits];
    /// <summary>Per 4 KiB physical page: nonzero if any instruction from that page may be cached.</summary>
    private readonly byte[] _codePages = new byte[TrackedPhysicalLimit >> 12];
    /// <summary>
    /// Per 4 KiB physical page: bumped each time a write may have changed code cached from it. Translated blocks
    /// (which copy their instructions) remember the version they were made from and are stale once it moves.
    /// </summary>
    private readonly uint[] _pageVersions = new uint[TrackedPhysicalLimit >> 12];

    /// <summary>Bumped by <see cref="Clear"/>: everything cached or translated before it is stale.</summary>
    public uint Generation { get; private set; }

    private readonly CoherenceDomain _domain;
    /// <summary>This CPU's index in <see cref="_domain"/>.</summary>
    private readonly int _cpuIndex;

    public DecodedInstructionCache(CoherenceDomain domain, int cpuIndex)
    {
        _domain = domain;
        _cpuIndex = cpuIndex;
        Clear();
    }

    /// <summary>The slot for <paramref name="physicalAddress"/>; its Tag tells whether it holds that instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref DecodedInstruction Slot(ulong physicalAddress)
        // SAFETY: the index is masked to the array length.
        => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_entries), (int)(physicalAddress & EntryMask));

    public static bool CanCache(ulong physicalAddress) => physicalAddress < TrackedPhysicalLimit;

    /// <summary>Records that code from the page is cached here, and in the domain (which may nudge the other CPUs).</summary>
    public void MarkCodePage(ulong physicalAddress)
    {
        _codePages[physicalAddress >> 12] = 1;
        _domain.MarkCodePage(physicalAddress, _cpuIndex);
    }

    /// <summary>The write version of the code page holding <paramref name="physicalAddress"/> (below 4 GiB).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint PageVersion(ulong physicalAddress) => _pageVersions[physicalAddress >> 12];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsCodePage(ulong physicalAddress)
        => physicalAddress < TrackedPhysicalLimit && _codePages[physicalAddress >> 12] != 0;

    /// <summary>Drops decodings that may include any byte of [physicalAddress, physicalAddress + length).</summary>
    public void Invalidate(ulong physicalAddress, int length)
    {
        if (length <= 0)
            return;
        ulong first = physicalAddress >= MaxInstructionLength - 1 ? physicalAddress - (MaxInstructionLength - 1) : 0;
        ulong end = physicalAddress + (ulong)length;
        if (end - first > (1 << EntryBits))
        {
            Clear();
            return;
        }
        for (ulong page = first >> 12; page <= (end - 1) >> 12 && page < (TrackedPhysicalLimit >> 12); page++)
        {
            if (_codePages[page] != 0)
                _pageVersions[page]++;
        }
        for (ulong a = first; a < end; a++)
        {
            if (!IsCodePage(a))
                continue;
            ref DecodedInstruction slot = ref Slot(a);
            if (slot.Tag != EmptyTag && (slot.Tag >> 2) == a)
                slot.Tag = EmptyTag;
        }
    }

    public void Clear()
    {
        for (int i = 0; i < _entries.Length; i++)
            _entries[i].Tag = EmptyTag;
        _domain.ReleaseAll(_codePages, _cpuIndex);
        Array.Clear(_codePages);
        Generation++;
    }
}
