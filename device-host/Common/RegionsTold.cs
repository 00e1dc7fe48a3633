namespace SplitEmu.DeviceHost.Common;

/// <summary>
/// Which of a device's regions it was told are gone from the map, and how many accesses reached it after
/// that: the count DESIGN.md's invariant 2 says must stay 0. Used wherever a device is hosted (its process, or
/// inline in the CPU process). Not thread-safe: the host serializes accesses to a device.
/// </summary>
public sealed class RegionsTold
{
    /// <summary>Regions told gone (index = region).</summary>
    private bool[] _gone = [];

    /// <summary>Accesses that arrived for a region the device was told is gone.</summary>
    public long AccessesAfterGone { get; private set; }

    /// <summary>Records that region <paramref name="region"/> left (true) or rejoined (false) the map.</summary>
    public void Set(int region, bool gone)
    {
        if (_gone.Length <= region)
        {
            Array.Resize(ref _gone, region + 1);
        }

        _gone[region] = gone;
    }

    /// <summary>Counts an access to <paramref name="region"/> if the device was told it is gone.</summary>
    public void CountAccess(int region)
    {
        if (region < _gone.Length && _gone[region])
        {
            AccessesAfterGone++;
        }
    }
}
