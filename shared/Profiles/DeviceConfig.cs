using SplitEmu.Shared.Transport;
namespace SplitEmu.Shared.Profiles;

/// <summary>One device of the machine.</summary>
public sealed record DeviceConfig
{
    /// <summary>Unique id within the machine (used by the console, the monitor and reports).</summary>
    public string Id { get; init; } = "";

    /// <summary>Device model name, for example <c>uart16550</c> or <c>debug-exit</c>.</summary>
    public string Type { get; init; } = "";

    /// <summary>Base I/O port, or null if the device has no port range (the type's default base when the profile left it out).</summary>
    public ushort? Io { get; init; }

    /// <summary>Base MMIO address, or null if the device has no MMIO range.</summary>
    public ulong? Mmio { get; init; }

    /// <summary>Interrupt line, or null.</summary>
    public int? Irq { get; init; }

    /// <summary>Where the device code runs (bound as <see cref="Placement.Inline"/> when absent for types that only run inline).</summary>
    public Placement Placement { get; init; } = Placement.Isolated;

    /// <summary>Process group name when <see cref="Placement"/> is <see cref="Placement.Group"/>.</summary>
    public string? Group { get; init; }

    /// <summary>
    /// The entry of the profile's <c>hosts</c> whose machine runs this device's process (over ssh; docs/remote-devices.md);
    /// null: this machine.
    /// </summary>
    public string? Host { get; init; }

    /// <summary>Further hosts, in order, for the process's next incarnation after its host was lost.</summary>
    public IReadOnlyList<string> Failover { get; init; } = [];

    /// <summary>How the CPU side waits for this device's replies.</summary>
    public WaitPolicy WaitPolicy { get; init; } = WaitPolicy.Handoff;

    /// <summary>Spin budget in iterations for <see cref="WaitPolicy.Hybrid"/>.</summary>
    public int SpinBudget { get; init; } = ProfileDefaults.HybridSpinBudget;

    /// <summary>What the device's regions answer while its process is down.</summary>
    public DownBehavior WhileDown { get; init; } = DownBehavior.Stall;

    /// <summary>Restart policy for an isolated device.</summary>
    public RestartConfig Restart { get; init; } = new();

    /// <summary>How long one access may wait for the device before the device is declared hung, killed and handled as crashed.</summary>
    public int AccessTimeoutMs { get; init; } = ProfileDefaults.AccessTimeoutMs;

    /// <summary>Accesses journaled between two snapshots of the device's state (the journal's bound).</summary>
    public int SnapshotEvery { get; init; } = ProfileDefaults.SnapshotEvery;

    /// <summary>Crash injection, or null for none.</summary>
    public CrashConfig? Crash { get; init; }

    /// <summary>Model-specific settings (string values; each model documents its keys).</summary>
    /// <remarks>
    /// In a profile returned by the launcher's ProfileLoader, the values of the keys a type declares as file
    /// paths (its <c>FileKeys</c> in the launcher's device catalog, such as piix3-ide's disk images) are already
    /// resolved absolute paths of existing files.
    /// </remarks>
    public IReadOnlyDictionary<string, string> Config { get; init; } = new Dictionary<string, string>();
}

/// <summary>Where a device's code runs. Placement is configuration: the same device code runs anywhere.</summary>
public enum Placement
{
    /// <summary>In the CPU process; accesses are direct calls.</summary>
    Inline,

    /// <summary>In a device process of its own, reached over a shared-memory ring.</summary>
    Isolated,

    /// <summary>In a named device process shared with other devices of the same group.</summary>
    Group,
}

/// <summary>What a device's regions answer while its process is down.</summary>
public enum DownBehavior
{
    /// <summary>The vCPU waits for the restart; the guest sees nothing.</summary>
    Stall,

    /// <summary>Reads return all ones, writes are dropped.</summary>
    AllOnes,
}

/// <summary>When and how often a crashed device process is restarted.</summary>
public sealed record RestartConfig
{
    /// <summary>Whether to restart.</summary>
    public RestartPolicy Policy { get; init; } = RestartPolicy.OnCrash;

    /// <summary>Most restarts allowed within <see cref="WindowMs"/>.</summary>
    public int MaxRestarts { get; init; } = ProfileDefaults.MaxRestarts;

    /// <summary>Sliding window for <see cref="MaxRestarts"/>, in milliseconds.</summary>
    public int WindowMs { get; init; } = ProfileDefaults.RestartWindowMs;

    /// <summary>Delay before the first restart; doubled for each further restart in the window.</summary>
    public int BackoffMs { get; init; } = ProfileDefaults.RestartBackoffMs;

    /// <summary>What happens when the limit is reached.</summary>
    public GiveUpAction GiveUp { get; init; } = GiveUpAction.Halt;
}

/// <summary>Restart policies.</summary>
public enum RestartPolicy
{
    /// <summary>A crashed device stays down.</summary>
    Never,

    /// <summary>A crashed device is restarted, within limits.</summary>
    OnCrash,
}

/// <summary>What to do when a device cannot be restarted any more.</summary>
public enum GiveUpAction
{
    /// <summary>Stop the machine.</summary>
    Halt,

    /// <summary>Leave the device faulted: its regions answer as <see cref="DeviceConfig.WhileDown"/> says, except that stall becomes all-ones.</summary>
    Fault,

    /// <summary>Remove the device's regions from the map.</summary>
    Unplug,
}
