namespace SplitEmu.CpuHost.Memory;

/// <summary>
/// An immutable rendering of a region tree: sorted, non-overlapping ranges, each naming the leaf region that is
/// visible there. Published by one reference swap; readers never lock.
/// </summary>
public sealed class FlatView
{
    private readonly ulong[] _starts;

    private FlatView(FlatRange[] ranges, int generation)
    {
        Ranges = ranges;
        Generation = generation;
        _starts = new ulong[ranges.Length];
        for (int i = 0; i < ranges.Length; i++)
        {
            _starts[i] = ranges[i].Start;
        }
    }

    /// <summary>The ranges in address order.</summary>
    public IReadOnlyList<FlatRange> Ranges { get; }

    /// <summary>Commit number that produced this view.</summary>
    public int Generation { get; }

    /// <summary>The empty view.</summary>
    public static FlatView Empty { get; } = new([], 0);

    /// <summary>Index of the range the last lookup found: accesses come in runs to the same device (a guest
    /// polling a status register), so it is checked before the binary search. A benign race: any stale value
    /// is only a hint, re-checked against the range.</summary>
    private int _lastHit;

    /// <summary>Finds the range holding <paramref name="address"/>.</summary>
    public bool TryFind(ulong address, out FlatRange range)
    {
        FlatRange[] ranges = (FlatRange[])Ranges;
        int hint = _lastHit;
        if ((uint)hint < (uint)ranges.Length && address - ranges[hint].Start < ranges[hint].End - ranges[hint].Start)
        {
            range = ranges[hint];
            return true;
        }

        // Binary search for the last range starting at or below the address.
        int index = Array.BinarySearch(_starts, address);
        if (index < 0)
        {
            index = ~index - 1;
        }

        if (index >= 0)
        {
            FlatRange candidate = ranges[index];
            if (address < candidate.End)
            {
                _lastHit = index;
                range = candidate;
                return true;
            }
        }

        range = default;
        return false;
    }

    /// <summary>Renders the tree under <paramref name="root"/> (placed at address 0).</summary>
    public static FlatView Render(MemoryRegion root, int generation)
    {
        List<FlatRange> placed = [];
        RenderInto(root, 0, 0, root.Size, placed);
        placed.Sort((a, b) => a.Start.CompareTo(b.Start));
        return new FlatView([.. placed], generation);
    }

    /// <summary>
    /// Adds what <paramref name="region"/>, placed at <paramref name="baseAddress"/>, shows inside
    /// [<paramref name="clipStart"/>, <paramref name="clipEnd"/>), wherever <paramref name="placed"/> does not
    /// already cover: callers render higher priorities first, so what is placed first stays visible.
    /// </summary>
    private static void RenderInto(MemoryRegion region, ulong baseAddress, ulong clipStart, ulong clipEnd, List<FlatRange> placed)
    {
        ulong start = Math.Max(baseAddress, clipStart);
        ulong end = Math.Min(baseAddress + region.Size, clipEnd);
        if (start >= end || !region.Enabled)
        {
            return;
        }

        switch (region.Kind)
        {
            case RegionKind.Container:
                foreach (MemoryRegion child in region.Children
                    .OrderByDescending(c => c.Priority)
                    .ThenByDescending(c => c.InsertionOrder))
                {
                    RenderInto(child, baseAddress + child.Offset, start, end, placed);
                }

                break;
            case RegionKind.Alias:
                RenderAlias(region, baseAddress, start, end, placed);
                break;
            default:
                AddUncovered(region, baseAddress, start, end, placed);
                break;
        }
    }

    /// <summary>
    /// Renders the alias's target in the target's own coordinates, clipped to the alias window, then shifts the
    /// pieces to where the alias sits. Offsets are differences, so they stay right in modular arithmetic.
    /// </summary>
    private static void RenderAlias(MemoryRegion alias, ulong baseAddress, ulong start, ulong end, List<FlatRange> placed)
    {
        ulong windowStart = alias.AliasOffset + (start - baseAddress);
        ulong windowEnd = alias.AliasOffset + (end - baseAddress);
        List<FlatRange> inner = [];
        RenderInto(alias.AliasTarget!, 0, windowStart, windowEnd, inner);
        inner.Sort((a, b) => a.Start.CompareTo(b.Start));
        foreach (FlatRange piece in inner)
        {
            ulong shiftedStart = piece.Start - windowStart + start;
            ulong shiftedEnd = piece.End - windowStart + start;
            AddUncovered(piece.Region, shiftedStart - piece.RegionOffset, shiftedStart, shiftedEnd, placed);
        }
    }

    private static void AddUncovered(MemoryRegion leaf, ulong baseAddress, ulong start, ulong end, List<FlatRange> placed)
    {
        ulong cursor = start;
        foreach (FlatRange existing in placed.Where(p => p.End > start && p.Start < end).OrderBy(p => p.Start).ToArray())
        {
            if (existing.Start > cursor)
            {
                placed.Add(new FlatRange(cursor, existing.Start, leaf, cursor - baseAddress));
            }

            cursor = Math.Max(cursor, existing.End);
            if (cursor >= end)
            {
                return;
            }
        }

        if (cursor < end)
        {
            placed.Add(new FlatRange(cursor, end, leaf, cursor - baseAddress));
        }
    }
}
