namespace SplitEmu.Shared.Profiles;

/// <summary>
/// Crash injection for one device: its process is killed with SIGKILL while the chosen access is in flight (or
/// after a time). Guest accesses are counted from 1; a re-issued access after a restart is not counted again,
/// so every injected crash lets the guest make progress.
/// </summary>
public sealed record CrashConfig
{
    /// <summary>Kill while the N-th access is in flight.</summary>
    public long? AtAccess { get; init; }

    /// <summary>Kill while every K-th access is in flight.</summary>
    public long? EveryAccesses { get; init; }

    /// <summary>Kill while the first access to this register offset is in flight.</summary>
    public ulong? OnOffset { get; init; }

    /// <summary>Kill this many milliseconds after the machine started.</summary>
    public int? AfterMs { get; init; }

    /// <summary>Stop injecting after this many crashes (null: no limit).</summary>
    public int? MaxCrashes { get; init; }
}
