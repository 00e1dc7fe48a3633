namespace SplitEmu.Shared.Profiles;

/// <summary>A range of guest-physical MMIO addresses: <paramref name="Size"/> bytes from <paramref name="Start"/>.</summary>
public readonly record struct MmioRange(ulong Start, ulong Size)
{
    /// <summary>The last address of the range.</summary>
    public ulong End => Start + Size - 1;
}
