namespace SplitEmu.Shared.Rpc;

/// <summary>The one bounds rule for DMA, used inline and in device processes alike.</summary>
public static class DmaWindows
{
    /// <summary>
    /// Whether all <paramref name="length"/> bytes at <paramref name="address"/> lie inside one of
    /// <paramref name="windows"/> and inside <paramref name="memorySize"/> (device-supplied values: overflow-safe).
    /// </summary>
    public static bool Allow(IReadOnlyList<DmaWindow> windows, ulong memorySize, ulong address, ulong length)
    {
        ulong end = address + length;
        if (end < address || end > memorySize)
        {
            return false;
        }

        foreach (DmaWindow window in windows)
        {
            if (address >= window.Start && end <= window.Start + window.Length)
            {
                return true;
            }
        }

        return false;
    }
}
