using System.Diagnostics;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// One device of a device process as the CPU process keeps it across the process's incarnations: its profile entry,
/// its place in the ring, what outlives any one process (journal, crash injector, access counters, whether it was
/// unplugged) and what the current incarnation declared and was granted at bind. Reached by its ring index from the
/// <see cref="DeviceProcessRecord"/> that owns it: one lookup per access instead of one per parallel array.
/// </summary>
public sealed class IsolatedDeviceRecord
{
    /// <summary>The record of <paramref name="config"/>, device <paramref name="index"/> in its process's ring order.</summary>
    public IsolatedDeviceRecord(DeviceConfig config, ushort index)
    {
        Config = config;
        Index = index;
        Journal = new DeviceJournal(Math.Max(1, config.SnapshotEvery));
        Injector = new CrashInjector(config.Crash);
        AccessTimeoutTicks = (long)(config.AccessTimeoutMs * (Stopwatch.Frequency / 1000.0));
    }

    /// <summary>Its profile entry.</summary>
    public DeviceConfig Config { get; }

    /// <summary>Its device id.</summary>
    public string Id => Config.Id;

    /// <summary>Its index in the ring messages of its process (the ring order of the process's devices).</summary>
    public ushort Index { get; }

    /// <summary>Snapshot and accesses since.</summary>
    internal DeviceJournal Journal { get; }

    /// <summary>Access-based crash injection.</summary>
    internal CrashInjector Injector { get; }

    /// <summary>Guest accesses served, across incarnations.</summary>
    internal DeviceAccessCounters Counters { get; } = new();

    /// <summary>How long one access may wait, in Stopwatch ticks (derived once, used per access).</summary>
    public long AccessTimeoutTicks { get; }

    /// <summary>Unplugged, so accesses must not wait for its restart (guarded by its process record's gate).</summary>
    internal bool Abandoned { get; set; }

    /// <summary>The handle its regions carry in the map, from its first plug on (null before).</summary>
    public DeviceHandle? Handle { get; internal set; }

    /// <summary>The regions the current incarnation declared (untrusted, checked at bind); empty before the first bind.</summary>
    public IReadOnlyList<DeviceRegionInfo> DeclaredRegions { get; internal set; } = [];

    /// <summary>The interrupt lines it may drive, from the launcher at bind; null: any (machines built without a launcher).</summary>
    public IReadOnlyList<int>? IrqLines { get; internal set; }

    /// <summary>What else it may ask of the machine (end it, report DMA), from the launcher at bind; null: everything.</summary>
    public DeviceEventGrant? EventGrant { get; internal set; }
}
