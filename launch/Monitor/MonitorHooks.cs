using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Monitor;

/// <summary>What the monitor needs from the machine's launcher (<see cref="Supervision.MachineRun"/> supplies it).</summary>
public sealed class MonitorHooks
{
    /// <summary>The machine's validated profile.</summary>
    public required MachineProfile Profile { get; init; }

    /// <summary>The profile file, or "built-in default".</summary>
    public required string ProfileName { get; init; }

    /// <summary>The CPU process's control endpoint.</summary>
    public required ICpuHostControl Cpu { get; init; }

    /// <summary>The CPU process's id.</summary>
    public required int CpuProcessId { get; init; }

    /// <summary>Time since the machine started.</summary>
    public required Func<TimeSpan> Uptime { get; init; }

    /// <summary>The device process of a process key (device id or group) right now, or null if there is none.</summary>
    public required Func<string, MonitorProcessView?> DeviceProcess { get; init; }

    /// <summary>Kills the current process of a process key; returns its id, or null if none was running.</summary>
    public required Func<string, int?> KillDeviceProcess { get; init; }

    /// <summary>
    /// Bytes of a device's output stream the launcher has received (an isolated device's output comes to the
    /// launcher directly, not through the CPU process): the count the run report gives.
    /// </summary>
    public required Func<string, long> OutputBytes { get; init; }

    /// <summary>Ends the machine cleanly (as SIGTERM does).</summary>
    public required Action Quit { get; init; }
}

/// <summary>A device process as the launcher supervises it.</summary>
/// <param name="ProcessId">Its current process (0 if none).</param>
/// <param name="Epoch">Current incarnation.</param>
/// <param name="Restarts">Restarts so far.</param>
/// <param name="Restarting">Its process died and the launcher is handling it.</param>
/// <param name="GaveUp">Why restarting was given up, or null.</param>
/// <param name="Host">Which build of the device host runs it (native or JIT), or null while none does.</param>
public readonly record struct MonitorProcessView(int ProcessId, uint Epoch, int Restarts, bool Restarting, string? GaveUp, string? Host);
