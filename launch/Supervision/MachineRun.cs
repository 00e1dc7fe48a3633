using System.Diagnostics;
using SplitEmu.Launch.Reports;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;
using StreamJsonRpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>Options of one run.</summary>
/// <param name="ReportPath">Where to write the JSON report, or null.</param>
/// <param name="Timeout">Wall-clock limit, or null.</param>
public sealed record RunOptions(string? ReportPath, TimeSpan? Timeout);

/// <summary>
/// One machine from start to end: starts the CPU process and one process per isolated device or group, wires
/// their segments, runs the guest, stops everything, and writes the report. Every exit path kills the children
/// and removes the sockets and shared-memory files this run created.
/// </summary>
public sealed class MachineRun : IAsyncDisposable
{
    /// <summary>How long to wait for device output still on its way to the console.</summary>
    private static readonly TimeSpan s_outputDrainTimeout = TimeSpan.FromSeconds(2);

    private readonly MachineProfile _profile;
    private readonly string _profileName;
    private readonly RunOptions _options;
    private readonly TextWriter _log;
    private readonly ConsoleRouter _console;
    private readonly string _runFolder;
    private readonly string _shmPrefix;
    private readonly Dictionary<string, DeviceProcess> _deviceProcesses = new(StringComparer.Ordinal);
    private ChildProcess? _cpu;
    private ICpuHostControl? _cpuControl;
    private volatile bool _stopping;

    private MachineRun(MachineProfile profile, string profileName, RunOptions options, Stream console, TextWriter log)
    {
        _profile = profile;
        _profileName = profileName;
        _options = options;
        _log = log;
        _console = new ConsoleRouter(profile.Console, console);
        // Both names start with splitemu-PID- so that a later run can sweep what a killed launcher left.
        _runFolder = Directory.CreateTempSubdirectory($"splitemu-{Environment.ProcessId}-").FullName;
        _shmPrefix = Path.GetFileName(_runFolder);
    }

    /// <summary>Runs <paramref name="profile"/>; returns splitemu's exit code.</summary>
    public static async Task<int> ExecuteAsync(MachineProfile profile, string profileName, RunOptions options, Stream console, TextWriter log, CancellationToken cancellationToken)
    {
        await using MachineRun run = new(profile, profileName, options, console, log);
        return await run.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes shared-memory files and socket folders left by launchers that no longer run (a SIGKILLed
    /// launcher cannot clean up after itself).
    /// </summary>
    public static void SweepStaleFiles()
    {
        foreach (string path in Directory.EnumerateFiles(SharedMemorySegment.ShmFolder, "splitemu-*"))
        {
            if (IsOfDeadLauncher(path))
            {
                TryDelete(() => File.Delete(path));
            }
        }

        foreach (string path in Directory.EnumerateDirectories(Path.GetTempPath(), "splitemu-*"))
        {
            if (IsOfDeadLauncher(path))
            {
                TryDelete(() => Directory.Delete(path, recursive: true));
            }
        }

        static bool IsOfDeadLauncher(string path)
        {
            string[] parts = Path.GetFileName(path).Split('-');
            return parts.Length > 2 && int.TryParse(parts[1], out int pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}");
        }

        static void TryDelete(Action delete)
        {
            try
            {
                delete();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another launcher is sweeping too, or it is not ours to remove.
            }
        }
    }

    private async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        Stopwatch wall = Stopwatch.StartNew();
        // A stop (signal, Ctrl-C) can come at any moment, also while processes start: remember it and
        // forward it once the CPU process can take it.
        using CancellationTokenRegistration stop = cancellationToken.Register(() => RequestStop(ExitReason.Stopped));
        _cpu = await ChildProcess.StartAsync(HostExecutables.CpuHost, "cpu", _runFolder, _console, _log, cancellationToken).ConfigureAwait(false);
        _cpuControl = _cpu.Rpc.Attach<ICpuHostControl>();
        await _cpuControl.ConfigureAsync(new CpuHostSetup { Profile = _profile, ShmPrefix = _shmPrefix }, cancellationToken).ConfigureAwait(false);

        foreach (IGrouping<string, DeviceConfig> group in _profile.Devices
            .Where(d => DevicePlacement.ProcessKey(d) is not null)
            .GroupBy(d => DevicePlacement.ProcessKey(d)!))
        {
            await StartDeviceProcessAsync(group.Key, [.. group], cancellationToken).ConfigureAwait(false);
        }

        MachineExitInfo exit = await RunGuestAsync(cancellationToken).ConfigureAwait(false);
        _stopping = true;
        RunReport report = await StopAndReportAsync(exit, wall.Elapsed).ConfigureAwait(false);
        if (_options.ReportPath is not null)
        {
            report.WriteTo(_options.ReportPath);
        }

        if (exit.Reason is not ExitReason.GuestExit and not ExitReason.Stopped)
        {
            _log.WriteLine($"splitemu: machine '{_profile.Name}' ended: {report.Exit.Reason}{(exit.Detail is null ? "" : ": " + exit.Detail)}");
        }

        return exit.ExitCode;
    }

    private async Task StartDeviceProcessAsync(string processKey, DeviceConfig[] devices, CancellationToken cancellationToken)
    {
        string segmentPath = await _cpuControl!.CreateChannelAsync(new ChannelRequest { ProcessKey = processKey }, cancellationToken).ConfigureAwait(false);
        ChildProcess child = await ChildProcess.StartAsync(HostExecutables.DeviceHost, processKey, _runFolder, _console, _log, cancellationToken).ConfigureAwait(false);
        DeviceProcess deviceProcess = new(child, devices, child.Rpc.Attach<IDeviceHostControl>());
        _deviceProcesses.Add(processKey, deviceProcess);
        DeviceHostAttachResult attached = await deviceProcess.Control.AttachAsync(
            new DeviceHostAttachRequest
            {
                SegmentPath = segmentPath,
                Devices = devices,
                WaitPolicy = devices[0].WaitPolicy,
                SpinBudget = devices[0].SpinBudget,
            },
            cancellationToken).ConfigureAwait(false);
        await _cpuControl.BindChannelAsync(
            new ChannelBinding
            {
                ProcessKey = processKey,
                ProcessId = child.ProcessId,
                DeviceIds = devices.Select(d => d.Id).ToArray(),
                Regions = attached.Regions,
            },
            cancellationToken).ConfigureAwait(false);

        // The CPU process must learn of a death at once, also while a vCPU waits on that device.
        child.Process.Exited += (_, _) =>
        {
            if (!_stopping)
            {
                _log.WriteLine($"splitemu: device process '{processKey}' (pid {child.ProcessId}) exited unexpectedly");
                _ = _cpuControl.DeviceProcessExitedAsync(processKey, CancellationToken.None);
            }
        };
        if (child.Process.HasExited && !_stopping)
        {
            await _cpuControl.DeviceProcessExitedAsync(processKey, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<MachineExitInfo> RunGuestAsync(CancellationToken cancellationToken)
    {
        using Timer? timeout = _options.Timeout is TimeSpan limit
            ? new Timer(_ => RequestStop(ExitReason.Timeout), null, limit, Timeout.InfiniteTimeSpan)
            : null;

        Task<MachineExitInfo> run = _cpuControl!.RunAsync(CancellationToken.None);
        if (cancellationToken.IsCancellationRequested)
        {
            RequestStop(ExitReason.Stopped); // asked before the CPU process could take it
        }

        Task cpuExited = _cpu!.Process.WaitForExitAsync(CancellationToken.None);
        if (await Task.WhenAny(run, cpuExited).ConfigureAwait(false) == run)
        {
            return await run.ConfigureAwait(false);
        }

        return new MachineExitInfo
        {
            Reason = ExitReason.DeviceFailure,
            ExitCode = ExitCodes.Failure,
            Instructions = 0,
            Detail = $"the CPU process exited with code {_cpu.Process.ExitCode}",
        };
    }

    private void RequestStop(ExitReason reason)
    {
        if (_cpuControl is not { } control)
        {
            return; // not started yet: RunGuestAsync checks the token once it has started the machine
        }

        control.RequestStopAsync(reason, CancellationToken.None).ContinueWith(
            t => _ = t.Exception, // not configured yet, or already gone: the run's own checks cover both
            TaskScheduler.Default);
    }

    private async Task<RunReport> StopAndReportAsync(MachineExitInfo exit, TimeSpan wallTime)
    {
        Dictionary<string, DeviceAccessStats> served = new(StringComparer.Ordinal);
        Dictionary<string, int> processIds = new(StringComparer.Ordinal);
        foreach (DeviceProcess device in _deviceProcesses.Values)
        {
            foreach (DeviceConfig config in device.Devices)
            {
                processIds[config.Id] = device.Child.ProcessId;
            }

            if (device.Child.Process.HasExited)
            {
                continue;
            }

            try
            {
                DeviceHostStopResult stopped = await device.Control.StopAsync(CancellationToken.None).ConfigureAwait(false);
                foreach (DeviceAccessStats stats in stopped.Devices)
                {
                    served[stats.DeviceId] = stats;
                    await _console.WaitForAsync(stats.DeviceId, stats.OutputBytes, s_outputDrainTimeout).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is ConnectionLostException or RemoteInvocationException or ObjectDisposedException)
            {
                _log.WriteLine($"splitemu: device process '{device.Child.Label}' did not stop cleanly: {ex.Message}");
            }
        }

        IReadOnlyList<DeviceAccessStats> cpuSide = _cpu!.Process.HasExited
            ? []
            : await _cpuControl!.GetDeviceStatsAsync(CancellationToken.None).ConfigureAwait(false);
        foreach (DeviceAccessStats stats in cpuSide)
        {
            if (!served.ContainsKey(stats.DeviceId))
            {
                served[stats.DeviceId] = stats; // inline devices: the CPU process served them
                await _console.WaitForAsync(stats.DeviceId, stats.OutputBytes, s_outputDrainTimeout).ConfigureAwait(false);
            }
        }

        return new RunReport
        {
            Machine = _profile.Name,
            Profile = _profileName,
            Exit = new ExitSection
            {
                Reason = KebabCase(exit.Reason.ToString()),
                Code = exit.ExitCode,
                GuestValue = exit.GuestValue,
                Detail = exit.Detail,
            },
            Instructions = exit.Instructions,
            WallTimeMs = wallTime.TotalMilliseconds,
            CpuProcessId = _cpu.ProcessId,
            Devices = _profile.Devices.Select(d => new DeviceSection
            {
                Id = d.Id,
                Type = d.Type,
                Placement = KebabCase(d.Placement.ToString()),
                Group = d.Group,
                ProcessId = processIds.GetValueOrDefault(d.Id, _cpu.ProcessId),
                Accesses = new AccessSection
                {
                    Reads = served.GetValueOrDefault(d.Id)?.Reads ?? 0,
                    Writes = served.GetValueOrDefault(d.Id)?.Writes ?? 0,
                    BusErrors = cpuSide.FirstOrDefault(s => s.DeviceId == d.Id)?.BusErrors ?? 0,
                },
                OutputBytes = _console.Received(d.Id),
            }).ToArray(),
        };
    }

    private static string KebabCase(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        foreach (DeviceProcess device in _deviceProcesses.Values)
        {
            await device.Child.DisposeAsync().ConfigureAwait(false);
        }

        if (_cpu is not null)
        {
            await _cpu.DisposeAsync().ConfigureAwait(false);
        }

        // The CPU process removes its segments; a killed one cannot, so sweep ours.
        foreach (string path in Directory.EnumerateFiles(SharedMemorySegment.ShmFolder, _shmPrefix + "-*"))
        {
            File.Delete(path);
        }

        Directory.Delete(_runFolder, recursive: true);
    }

    private sealed record DeviceProcess(ChildProcess Child, DeviceConfig[] Devices, IDeviceHostControl Control);
}
