namespace SplitEmu.DeviceHost.Sdk.Pci;

/// <summary>
/// What one configuration write changed, as returned by <see cref="PciConfigSpace.Write"/>: the owner moves,
/// shows or hides its BAR regions when <see cref="Command"/> or a BAR bit is set.
/// </summary>
[Flags]
public enum PciConfigChanges
{
    /// <summary>Nothing changed (read-only bits, or the same value written again).</summary>
    None = 0,

    /// <summary>The command register (0x04) changed.</summary>
    Command = 1 << 0,

    /// <summary>BAR 0 (0x10) changed; BAR n is <c>Bar0 &lt;&lt; n</c> (<see cref="PciConfigSpace.BarChange"/>).</summary>
    Bar0 = 1 << 1,

    /// <summary>BAR 1 (0x14) changed.</summary>
    Bar1 = 1 << 2,

    /// <summary>BAR 2 (0x18) changed.</summary>
    Bar2 = 1 << 3,

    /// <summary>BAR 3 (0x1C) changed.</summary>
    Bar3 = 1 << 4,

    /// <summary>BAR 4 (0x20) changed.</summary>
    Bar4 = 1 << 5,

    /// <summary>BAR 5 (0x24) changed.</summary>
    Bar5 = 1 << 6,

    /// <summary>Any other byte changed (device-specific registers, interrupt line, latency timer).</summary>
    Other = 1 << 7,
}
