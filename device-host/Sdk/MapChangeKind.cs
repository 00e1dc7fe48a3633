namespace SplitEmu.DeviceHost.Sdk;

/// <summary>What a device may ask to change about one of its own regions (a guest reprogramming a BAR).</summary>
public enum MapChangeKind
{
    /// <summary>Move the region to a new base address.</summary>
    Move = 1,

    /// <summary>Hide the region (accesses then find whatever is below it, or nothing).</summary>
    Disable = 2,

    /// <summary>Show a hidden region again.</summary>
    Enable = 3,

    /// <summary>Remove the region from the map for good; the device is told when it has drained.</summary>
    Remove = 4,
}
