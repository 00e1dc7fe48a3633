namespace SplitEmu.CpuHost.Memory;

/// <summary>One piece of a flat view: addresses [Start, End) show <see cref="Region"/> from <see cref="RegionOffset"/>.</summary>
/// <param name="Start">First address.</param>
/// <param name="End">One past the last address.</param>
/// <param name="Region">The leaf region (RAM, ROM or device) seen there.</param>
/// <param name="RegionOffset">Offset within <paramref name="Region"/> that <paramref name="Start"/> maps to.</param>
public readonly record struct FlatRange(ulong Start, ulong End, MemoryRegion Region, ulong RegionOffset)
{
    /// <summary>Offset within the region of <paramref name="address"/> (which must lie in this range).</summary>
    public ulong OffsetOf(ulong address) => address - Start + RegionOffset;
}
