using System.Text.Json;
using System.Text.Json.Serialization;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Reports;

/// <summary>What `splitemu run --report FILE` writes: how the machine ended and what each device served.</summary>
public sealed record RunReport
{
    /// <summary>Machine name from the profile.</summary>
    public required string Machine { get; init; }

    /// <summary>The profile file, or "built-in default".</summary>
    public required string Profile { get; init; }

    /// <summary>How the machine ended.</summary>
    public required ExitSection Exit { get; init; }

    /// <summary>Guest instructions executed.</summary>
    public long Instructions { get; init; }

    /// <summary>How the vCPU ran them (mode and translator counters), when the CPU process reported it.</summary>
    public CpuExecutionReport? Cpu { get; init; }

    /// <summary>Wall time from start of the CPU process to the end of the machine, in milliseconds.</summary>
    public double WallTimeMs { get; init; }

    /// <summary>Milliseconds of <see cref="WallTimeMs"/> spent before the CPU left reset (processes started, the CPU process configured; device processes may still be attaching, see <see cref="DeviceSection.AttachedMs"/>).</summary>
    public double StartUpMs { get; init; }

    /// <summary>Of <see cref="StartUpMs"/>, from spawning the CPU process to its being configured: the CPU process's own start-up.</summary>
    public double CpuStartUpMs { get; init; }

    /// <summary>Process id of the CPU process.</summary>
    public int CpuProcessId { get; init; }

    /// <summary>Which build of the CPU host ran: "r2r" (ReadyToRun, docs/processes.md) or "jit"; null when none started.</summary>
    public string? CpuHost { get; init; }

    /// <summary>Per device.</summary>
    public required IReadOnlyList<DeviceSection> Devices { get; init; }

    /// <summary>Console bytes a restarted device emitted again and the launcher dropped (each shown once).</summary>
    public long ConsoleDuplicatesDropped { get; init; }

    /// <summary>The machine's monitor socket while it ran (docs/monitor.md), or null if it had none.</summary>
    public string? MonitorSocket { get; init; }

    /// <summary>The machine's pool of warm spares, or null when it kept none (docs/processes.md, "Spares").</summary>
    public SparesSection? Spares { get; init; }

    /// <summary>Writes the report as indented JSON.</summary>
    public void WriteTo(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, s_options) + "\n");

    /// <summary>Reads a report (tests, tools).</summary>
    public static RunReport Read(string path) =>
        JsonSerializer.Deserialize<RunReport>(File.ReadAllText(path), s_options) ?? throw new InvalidDataException($"{path} is not a run report");

    private static readonly JsonSerializerOptions s_options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>How the machine ended.</summary>
public sealed record ExitSection
{
    /// <summary>Why, e.g. "guest-exit".</summary>
    public required string Reason { get; init; }

    /// <summary>splitemu's exit code.</summary>
    public int Code { get; init; }

    /// <summary>The value the guest wrote to the debug-exit device.</summary>
    public long? GuestValue { get; init; }

    /// <summary>Detail (fault, signal).</summary>
    public string? Detail { get; init; }
}

/// <summary>One device.</summary>
public sealed record DeviceSection
{
    /// <summary>Device id.</summary>
    public required string Id { get; init; }

    /// <summary>Model type.</summary>
    public required string Type { get; init; }

    /// <summary>"inline", "isolated" or "group".</summary>
    public required string Placement { get; init; }

    /// <summary>Process group name, for grouped devices.</summary>
    public string? Group { get; init; }

    /// <summary>Process that ran the device's code.</summary>
    public int ProcessId { get; init; }

    /// <summary>
    /// For an isolated or grouped device, the build of its process: "native" (NativeAOT), "r2r", "jit", or "remote"
    /// (a remote bridge to a device host on <see cref="RemoteHost"/>).
    /// </summary>
    public string? Host { get; init; }

    /// <summary>
    /// For an isolated or grouped device, when its first process had attached and its regions were mapped, in
    /// milliseconds of <see cref="RunReport.WallTimeMs"/>. The guest may have started before (<see cref="RunReport.StartUpMs"/>):
    /// it waits for a device only when it reaches an address no attached device claims yet (docs/processes.md).
    /// </summary>
    public double? AttachedMs { get; init; }

    /// <summary>For a device on another host, the profile's name of the host its last incarnation ran on (after a failover, the one it moved to).</summary>
    public string? RemoteHost { get; init; }

    /// <summary>For an isolated or grouped device, how its process was confined: "strict" or "off" (the profile's <c>sandbox</c>; a strict process that cannot lock itself down exits before it serves).</summary>
    public string? Sandbox { get; init; }

    /// <summary>Accesses the device served.</summary>
    public required AccessSection Accesses { get; init; }

    /// <summary>Bytes on its output stream.</summary>
    public long OutputBytes { get; init; }

    /// <summary>Last lines its crashed processes printed.</summary>
    public IReadOnlyList<string>? ProcessOutput { get; init; }

    /// <summary>Times its process was restarted.</summary>
    public int Restarts { get; init; }

    /// <summary>Why restarting was given up, if it was.</summary>
    public string? GaveUp { get; init; }

    /// <summary>Each crash and its recovery.</summary>
    public IReadOnlyList<CrashSection>? Crashes { get; init; }
}

/// <summary>One crash of a device process and its recovery.</summary>
public sealed record CrashSection
{
    /// <summary>Incarnation that died.</summary>
    public uint Epoch { get; init; }

    /// <summary>Why it was declared dead.</summary>
    public required string Reason { get; init; }

    /// <summary>From the kill to the CPU process knowing (injected crashes only).</summary>
    public double? DetectMs { get; init; }

    /// <summary>From detection to the new process attached.</summary>
    public double? RestartMs { get; init; }

    /// <summary>Whether the new process was a warm spare from the machine's pool (else one started for the restart).</summary>
    public bool? FromSpare { get; init; }

    /// <summary>Restoring the state: snapshot, journal replay, regions re-bound.</summary>
    public double? RestoreMs { get; init; }

    /// <summary>From the kill (or detection) to the guest able to continue.</summary>
    public double? GuestBlockedMs { get; init; }

    /// <summary>Journaled accesses replayed.</summary>
    public int Replayed { get; init; }

    /// <summary>Replayed reads that answered differently (non-deterministic device).</summary>
    public int Divergences { get; init; }

    /// <summary>Devices reset instead of restored.</summary>
    public IReadOnlyList<string>? ResetDevices { get; init; }
}

/// <summary>The machine's pool of warm spares.</summary>
public sealed record SparesSection
{
    /// <summary>Spares the pool keeps ready.</summary>
    public int Size { get; init; }

    /// <summary>Spares started during the run (the pool's first fill and every refill).</summary>
    public int Started { get; init; }
}

/// <summary>Access counters.</summary>
public sealed record AccessSection
{
    /// <summary>Reads served.</summary>
    public long Reads { get; init; }

    /// <summary>Writes served.</summary>
    public long Writes { get; init; }

    /// <summary>Reads plus writes.</summary>
    public long Total => Reads + Writes;

    /// <summary>Accesses that ended as bus errors.</summary>
    public long BusErrors { get; init; }
}
