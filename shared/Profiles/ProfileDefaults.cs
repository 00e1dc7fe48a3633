namespace SplitEmu.Shared.Profiles;

/// <summary>The one source of profile defaults and limits.</summary>
public static class ProfileDefaults
{
    /// <summary>The profile schema version this build reads.</summary>
    public const int SchemaVersion = 1;

    /// <summary>Default guest RAM in MiB.</summary>
    public const int MemorySizeMiB = 16;

    /// <summary>Smallest guest RAM in MiB.</summary>
    public const int MinMemorySizeMiB = 1;

    /// <summary>Largest guest RAM in MiB (below the 32-bit PCI hole).</summary>
    public const int MaxMemorySizeMiB = 3072;

    /// <summary>Default spin budget of the hybrid wait policy, in spin iterations.</summary>
    public const int HybridSpinBudget = 2000;

    /// <summary>Default most restarts within the window.</summary>
    public const int MaxRestarts = 5;

    /// <summary>Default restart window in milliseconds.</summary>
    public const int RestartWindowMs = 10_000;

    /// <summary>Default first restart back-off in milliseconds.</summary>
    public const int RestartBackoffMs = 10;

    /// <summary>Highest interrupt line a device may use (the 16 lines of a PC's two 8259 PICs are 0-15).</summary>
    public const int MaxIrqLine = 15;

    /// <summary>Smallest spin budget of the hybrid wait policy, in spin iterations.</summary>
    public const int MinSpinBudget = 1;

    /// <summary>Largest spin budget of the hybrid wait policy, in spin iterations (well over a second of spinning).</summary>
    public const int MaxSpinBudget = 100_000_000;

    /// <summary>Largest <see cref="RestartConfig.MaxRestarts"/> a profile may ask for.</summary>
    public const int RestartCountLimit = 1000;

    /// <summary>Longest restart window in milliseconds (one hour).</summary>
    public const int RestartWindowLimitMs = 3_600_000;

    /// <summary>Longest first restart back-off in milliseconds (one minute).</summary>
    public const int RestartBackoffLimitMs = 60_000;

    /// <summary>Default time one access may wait for a device before it is declared hung, in milliseconds.</summary>
    public const int AccessTimeoutMs = 5000;

    /// <summary>Default accesses journaled between two snapshots of a device.</summary>
    public const int SnapshotEvery = 1024;

    /// <summary>Longest access timeout a profile may set, in milliseconds.</summary>
    public const int AccessTimeoutLimitMs = 600_000;

    /// <summary>Longest journal a profile may ask for between two snapshots.</summary>
    public const int SnapshotEveryLimit = 1_000_000;

    /// <summary>Most devices a machine may have (each is a region, a journal and a dispatch target).</summary>
    public const int MaxDevices = 128;

    /// <summary>Most device processes a machine may start (isolated devices and groups).</summary>
    public const int MaxDeviceProcesses = 32;

    /// <summary>Warm spares a machine keeps unless its profile says (capped at its number of restartable device processes).</summary>
    public const int DefaultSpares = 2;

    /// <summary>Most warm spares a profile may ask for: one per device process at most is ever useful at once.</summary>
    public const int MaxSpares = MaxDeviceProcesses;

    /// <summary>The <c>splitemu</c> command on a remote host when its profile entry names none: found on the login shell's PATH.</summary>
    public const string RemoteSplitemu = "splitemu";

    /// <summary>Most remote hosts a profile may name.</summary>
    public const int MaxHosts = MaxDeviceProcesses;

    /// <summary>Most regions one device may declare when it attaches; a device process that declares more is refused.</summary>
    public const int MaxRegionsPerDevice = 64;

    /// <summary>Smallest firmware image in bytes (64 KiB).</summary>
    public const int MinFirmwareBytes = 64 * 1024;

    /// <summary>Largest firmware image in bytes (16 MiB).</summary>
    public const int MaxFirmwareBytes = 16 * 1024 * 1024;

    /// <summary>A firmware image's size must be a multiple of this many bytes (64 KiB).</summary>
    public const int FirmwareSizeAlignment = 64 * 1024;

    /// <summary>The firmware image ends here: it occupies [4 GiB - size, 4 GiB).</summary>
    public const ulong FirmwareTop = 1UL << 32;

    /// <summary>Most bytes of the firmware's end also visible below 1 MiB as shadow RAM (128 KiB: 0xE0000-0xFFFFF).</summary>
    public const int FirmwareShadowBytes = 128 * 1024;

    /// <summary>The shadow copy of the firmware's end ends here (1 MiB, exclusive).</summary>
    public const int FirmwareShadowEnd = 0x10_0000;
}
