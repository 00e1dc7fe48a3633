using PolyType;
using StreamJsonRpc;

namespace SplitEmu.Shared.Rpc;

/// <summary>
/// The monitor of a running machine: JSON-RPC on a UNIX socket that the machine's launcher owns
/// (docs/monitor.md). `splitemu monitor MACHINE` is its client; any JSON-RPC client can use it too.
/// Failures come back as errors whose message says what was wrong (no such device, device is inline, ...)
/// with an <see cref="MonitorErrors"/> code.
/// </summary>
[JsonRpcContract, GenerateShape(IncludeMethods = MethodShapeFlags.PublicInstance)]
public partial interface IMonitor
{
    /// <summary>The machine: name, profile, processes, whether it is paused.</summary>
    Task<MonitorMachineInfo> GetMachineAsync(CancellationToken cancellationToken = default);

    /// <summary>Every device of the machine with its placement, process and state.</summary>
    Task<IReadOnlyList<MonitorDeviceInfo>> GetDevicesAsync(CancellationToken cancellationToken = default);

    /// <summary>Every device region with its state and live lease count (from the CPU process).</summary>
    Task<IReadOnlyList<RegionReport>> GetRegionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Instructions, uptime and per-device access counters.</summary>
    Task<MonitorStats> GetStatsAsync(CancellationToken cancellationToken = default);

    /// <summary>The machine's vCPU state and each vCPU's: running, halted or waiting for a start-up IPI, where, how far.</summary>
    Task<MonitorCpuState> GetCpusAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops the vCPU at an instruction boundary; completes when it is parked (or could not park in time: see the result).</summary>
    Task<MonitorCpuState> PauseAsync(CancellationToken cancellationToken = default);

    /// <summary>Lets a paused vCPU continue.</summary>
    Task<MonitorCpuState> ResumeAsync(CancellationToken cancellationToken = default);

    /// <summary>Ends the machine cleanly, like SIGTERM: splitemu exits with <see cref="ExitCodes.Interrupted"/>.</summary>
    Task QuitAsync(CancellationToken cancellationToken = default);

    /// <summary>Unplugs a device's regions; completes when they drained (the guest then sees no device there).</summary>
    Task UnplugAsync(string deviceId, CancellationToken cancellationToken = default);

    /// <summary>Maps an unplugged device's regions again.</summary>
    Task PlugAsync(string deviceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Kills the process of a device that runs in a process (isolated or group); the launcher's restart policy
    /// takes over as for any crash. Returns the process that was killed.
    /// </summary>
    Task<MonitorCrashResult> CrashAsync(string deviceId, CancellationToken cancellationToken = default);
}

/// <summary>Error codes of <see cref="IMonitor"/> (application range, outside JSON-RPC's reserved −32768..−32000).</summary>
public static class MonitorErrors
{
    /// <summary>The machine has no device of that id.</summary>
    public const int NoSuchDevice = 1;

    /// <summary>The request does not fit the device or the machine's state (crash an inline device, plug a plugged one).</summary>
    public const int NotPossible = 2;

    /// <summary>The CPU or a device process failed while serving the request.</summary>
    public const int Failed = 3;
}

/// <summary>The machine behind a monitor socket.</summary>
public sealed record MonitorMachineInfo
{
    /// <summary>Machine name from the profile.</summary>
    public required string Name { get; init; }

    /// <summary>The profile file, or "built-in default".</summary>
    public required string Profile { get; init; }

    /// <summary>The launcher's process id (owner of the socket).</summary>
    public int LauncherProcessId { get; init; }

    /// <summary>The CPU process's id.</summary>
    public int CpuProcessId { get; init; }

    /// <summary>This socket's path.</summary>
    public required string Socket { get; init; }

    /// <summary>Time since the machine started, in milliseconds.</summary>
    public double UptimeMs { get; init; }

    /// <summary>The vCPU's state: see <see cref="MonitorCpuState.State"/>.</summary>
    public required string CpuState { get; init; }
}

/// <summary>One device as the monitor shows it.</summary>
public sealed record MonitorDeviceInfo
{
    /// <summary>Device id.</summary>
    public required string Id { get; init; }

    /// <summary>Model type.</summary>
    public required string Type { get; init; }

    /// <summary>"inline", "isolated" or "group".</summary>
    public required string Placement { get; init; }

    /// <summary>Process group name, for grouped devices.</summary>
    public string? Group { get; init; }

    /// <summary>Process serving the device now (the CPU process for inline devices); 0 while none is.</summary>
    public int ProcessId { get; init; }

    /// <summary>Incarnation of its process (0 first, +1 per restart); 0 for inline devices.</summary>
    public uint Epoch { get; init; }

    /// <summary>Times its process was restarted.</summary>
    public int Restarts { get; init; }

    /// <summary>"running", "restarting" (its process died and a new one is starting), "gave-up", or "unplugged".</summary>
    public required string State { get; init; }

    /// <summary>The build of its process: "native" (NativeAOT), "jit", or "cpu" for an inline device.</summary>
    public string? Host { get; init; }
}

/// <summary>Counters of a running machine.</summary>
public sealed record MonitorStats
{
    /// <summary>Time since the machine started, in milliseconds.</summary>
    public double UptimeMs { get; init; }

    /// <summary>Guest instructions executed so far (advances once per run slice).</summary>
    public long Instructions { get; init; }

    /// <summary>The vCPU's state: see <see cref="MonitorCpuState.State"/>.</summary>
    public required string CpuState { get; init; }

    /// <summary>Per device, in profile order.</summary>
    public required IReadOnlyList<MonitorDeviceStats> Devices { get; init; }
}

/// <summary>Counters of one device.</summary>
public sealed record MonitorDeviceStats
{
    /// <summary>Device id.</summary>
    public required string Id { get; init; }

    /// <summary>Reads dispatched to it (the current incarnation's, for a device in a process).</summary>
    public long Reads { get; init; }

    /// <summary>Writes dispatched to it.</summary>
    public long Writes { get; init; }

    /// <summary>Accesses that ended as bus errors.</summary>
    public long BusErrors { get; init; }

    /// <summary>Bytes on its output stream.</summary>
    public long OutputBytes { get; init; }

    /// <summary>Times its process was restarted.</summary>
    public int Restarts { get; init; }
}

/// <summary>The vCPU after a pause or resume.</summary>
public sealed record MonitorCpuState
{
    /// <summary>
    /// "running"; "paused" (parked at an instruction boundary); "pausing" (asked to pause, but still inside an
    /// access, e.g. stalled on a device that is down: it parks when the access completes); "stopped" (ended).
    /// </summary>
    public required string State { get; init; }

    /// <summary>Guest instructions executed so far, by all vCPUs.</summary>
    public long Instructions { get; init; }

    /// <summary>Each vCPU, the bootstrap processor first (sampled while they run: exact once paused).</summary>
    public IReadOnlyList<MonitorVcpuState> Vcpus { get; init; } = [];
}

/// <summary>One vCPU as the monitor shows it.</summary>
public sealed record MonitorVcpuState
{
    /// <summary>Its index, which is also its initial local APIC ID (0: the bootstrap processor).</summary>
    public int Index { get; init; }

    /// <summary>"running", "halted" (HLT, waiting for an interrupt) or "waiting-for-startup" (an application processor before its start-up IPI).</summary>
    public required string State { get; init; }

    /// <summary>The linear address of its next instruction (CS base + EIP).</summary>
    public ulong InstructionPointer { get; init; }

    /// <summary>Guest instructions it has executed.</summary>
    public long Instructions { get; init; }
}

/// <summary>What a monitor crash did.</summary>
public sealed record MonitorCrashResult
{
    /// <summary>The device process (device id, or group name).</summary>
    public required string ProcessKey { get; init; }

    /// <summary>The process that was killed.</summary>
    public int KilledProcessId { get; init; }

    /// <summary>Every device that process served (all of them go down together).</summary>
    public required IReadOnlyList<string> Devices { get; init; }
}
