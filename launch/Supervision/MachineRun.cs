using System.Diagnostics;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.DeviceHost.Hosting.Sandbox;
using SplitEmu.Launch.Commands;
using SplitEmu.Launch.ConsoleInput;
using SplitEmu.Launch.Monitor;
using SplitEmu.Launch.Profiles;
using SplitEmu.Launch.Remote;
using SplitEmu.Launch.Reports;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;
using StreamJsonRpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>Options of one run.</summary>
/// <param name="ReportPath">Where to write the JSON report, or null.</param>
/// <param name="Timeout">Wall-clock limit, or null.</param>
public sealed record RunOptions(string? ReportPath, TimeSpan? Timeout)
{
    /// <summary>Device id to the file its output stream is written to (besides the console device's terminal).</summary>
    public IReadOnlyDictionary<string, string> DeviceLogs { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether a device process killed on request (crash injection, monitor) gets a line on the log; crash-test summarises instead.</summary>
    public bool ReportRequestedKills { get; init; } = true;

    /// <summary>The user's stop request (signals), whose detail goes into the report; null when nobody can ask.</summary>
    public StopRequest? Stop { get; init; }

    /// <summary>Whether standard input feeds the profile's console device (needs <see cref="Stop"/> for Ctrl-A X); only `splitemu run` sets it.</summary>
    public bool FeedStandardInput { get; init; }
}

/// <summary>How a run ended.</summary>
/// <param name="ExitCode">splitemu's exit code.</param>
/// <param name="Report">The report, or null when the machine never started.</param>
public sealed record RunOutcome(int ExitCode, RunReport? Report);

/// <summary>
/// One machine from start to end: starts the CPU process and one process per isolated device or group, wires
/// their segments, runs the guest, stops everything, and writes the report. Every exit path kills the children
/// and removes the sockets and run folder this run created.
/// </summary>
public sealed class MachineRun : IAsyncDisposable
{
    /// <summary>How long to wait for device output still on its way to the console.</summary>
    private static readonly TimeSpan s_outputDrainTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How long the launcher waits at its end for the console's reader to take the last output.</summary>
    private static readonly TimeSpan s_consoleDrainTimeout = TimeSpan.FromSeconds(5);

    private readonly MachineProfile _profile;
    private readonly string _profileName;
    private readonly RunOptions _options;
    private readonly TextWriter _log;
    private readonly ConsoleRouter _console;

    /// <summary>Open files of --device-log, closed when the run is disposed.</summary>
    private readonly Dictionary<string, Stream> _deviceLogs;
    private readonly string _runFolder;
    private readonly string _shmPrefix;
    private readonly Dictionary<string, DeviceProcess> _deviceProcesses = new(StringComparer.Ordinal);

    /// <summary>The machine's warm spares, once the machine is wired (null before, and on a machine that restarts nothing).</summary>
    private volatile SparePool? _spares;
    private ChildProcess? _cpu;
    private ICpuHostControl? _cpuControl;

    /// <summary>Guest RAM as the CPU process shares it; handed only to processes with a bus-master device.</summary>

    /// <summary>Runs from the start of <see cref="RunAsync"/>; <see cref="_startUp"/> is its reading when the CPU left reset.</summary>
    private readonly Stopwatch _wall = new();
    private TimeSpan _startUp;

    /// <summary>From spawning the CPU process to its being configured (the CPU process's own share of <see cref="_startUp"/>).</summary>
    private TimeSpan _cpuStartUp;
    private volatile bool _stopping;

    /// <summary>Cancelled with <see cref="_stopping"/>: a restart waiting out its back-off gives up at once. Never
    /// disposed (it holds no timer), so a late stop can always cancel it.</summary>
    private readonly CancellationTokenSource _stoppingSource = new();

    /// <summary>True once the guest was started: only then does the CPU process have crash records and counters.</summary>
    private bool _guestRunning;

    /// <summary>The monitor socket's server (docs/monitor.md), once the machine is built; null if it could not start.</summary>
    private MonitorServer? _monitor;

    /// <summary>The live status line when stderr is a terminal, else null.</summary>
    private readonly StatusLine? _status = StatusLine.ForTerminal();

    /// <summary>The report, once the machine ended.</summary>
    private RunReport? _report;

    /// <summary>Time since the machine started (restart windows are measured on it).</summary>
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>Restarts in progress (waited for, bounded, before the machine's processes are stopped).</summary>
    private readonly List<Task> _recoveries = [];

    private MachineRun(MachineProfile profile, string profileName, RunOptions options, Stream console, TextWriter log)
    {
        _profile = profile;
        _profileName = profileName;
        _options = options;
        _deviceLogs = options.DeviceLogs.ToDictionary(l => l.Key, l => (Stream)new FileStream(l.Value, FileMode.Create, FileAccess.Write, FileShare.Read), StringComparer.Ordinal);
        _console = new ConsoleRouter(profile.Console, _status?.WrapConsole(console) ?? console, _deviceLogs);
        _log = LineBoundaryLog.Around(_status?.WrapLog(log) ?? log, () => _console.ConsoleMidLine);
        // Both names start with splitemu-PID- so that a later run can sweep what a killed launcher left.
        _runFolder = Directory.CreateTempSubdirectory($"splitemu-{Environment.ProcessId}-").FullName;
        _shmPrefix = Path.GetFileName(_runFolder);
    }

    /// <summary>Runs <paramref name="profile"/>; returns splitemu's exit code.</summary>
    public static async Task<int> ExecuteAsync(MachineProfile profile, string profileName, RunOptions options, Stream console, TextWriter log, CancellationToken cancellationToken) =>
        (await RunToEndAsync(profile, profileName, options, console, log, cancellationToken).ConfigureAwait(false)).ExitCode;

    /// <summary>Runs <paramref name="profile"/>; returns the exit code and the report (also written if asked).</summary>
    public static async Task<RunOutcome> RunToEndAsync(MachineProfile profile, string profileName, RunOptions options, Stream console, TextWriter log, CancellationToken cancellationToken)
    {
        await using MachineRun run = new(profile, profileName, options, console, log);
        int exitCode = await run.RunAsync(cancellationToken).ConfigureAwait(false);
        return new RunOutcome(exitCode, run._report);
    }

    /// <summary>
    /// Removes run folders (sockets, logs) left by launchers that no longer run (a SIGKILLed launcher cannot
    /// clean up after itself). Shared memory needs no sweep: it is anonymous and ends with its last mapping.
    /// </summary>
    public static void SweepStaleFiles()
    {
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
        _wall.Restart();
        Stopwatch wall = _wall;
        // A stop (signal, Ctrl-C) can come at any moment, also while processes start: remember it and
        // forward it once the CPU process can take it.
        using CancellationTokenRegistration stop = cancellationToken.Register(() => RequestStop(ExitReason.Stopped));
        _options.Stop?.OnForce(KillEverything);
        MachineExitInfo exit;
        try
        {
            await StartMachineAsync(cancellationToken).ConfigureAwait(false);
            // Disposed on every way out of the run, which puts a raw terminal back as it was.
            using StandardInputFeeder? input = _options is { FeedStandardInput: true, Stop: { } user }
                ? StandardInputFeeder.Start(_profile, _cpuControl!, user, _log)
                : null;
            Task<MachineExitInfo> guest = RunGuestAsync(cancellationToken);
            // A device process that cannot attach ends the start: the guest, already running, is stopped, and the
            // failure is the run's, as if it had come before the guest's first instruction.
            _ = _attaching!.ContinueWith(_ => RequestStop(ExitReason.Stopped, "a device process could not attach"), CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion, TaskScheduler.Default);
            exit = await guest.ConfigureAwait(false);
            await EndAttachingAsync().ConfigureAwait(false);
        }
        catch (ControlTimeoutException ex)
        {
            exit = new MachineExitInfo { Reason = ExitReason.DeviceFailure, ExitCode = ExitCodes.Failure, Instructions = 0, Detail = ex.Message };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // A Ctrl-C while processes start is as much a stop as one while the guest runs: the report says so.
            exit = new MachineExitInfo
            {
                Reason = ExitReason.Stopped,
                ExitCode = ExitCodes.Interrupted,
                Instructions = 0,
                Detail = $"{_options.Stop?.Detail ?? "stopped"} while the machine was starting",
            };
        }

        finally
        {
            // However the run ended (a failure of the CPU process too), no attach goes on past it unobserved.
            _attachCancel?.Cancel();
            _ = _attaching?.ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }

        MarkStopping();
        if (_options.Stop is { Forced: true } forced)
        {
            // The processes were killed on purpose: that is the user's stop, not a device failure.
            exit = new MachineExitInfo { Reason = ExitReason.Stopped, ExitCode = ExitCodes.Interrupted, Instructions = exit.Instructions, Detail = forced.Detail };
        }
        if (_status is not null)
        {
            await _status.DisposeAsync().ConfigureAwait(false);
        }

        if (_monitor is not null)
        {
            // Attached monitors learn it now, with the exit code, not when the socket closes after the clean-up.
            await _monitor.AnnounceEndAsync(new MonitorMachineEnded
            {
                Reason = KebabCaseEnum.ToName(exit.Reason),
                ExitCode = exit.ExitCode,
                Detail = exit.Detail,
            }).ConfigureAwait(false);
        }

        RunReport report = await StopAndReportAsync(exit, wall.Elapsed).ConfigureAwait(false);
        _report = report;
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

    /// <summary>
    /// Starts the CPU process and every device process at once and returns once the CPU process is configured: the
    /// guest may run from then on. The device processes attach meanwhile (<see cref="_attaching"/>); an access of the
    /// guest that finds no region waits in the CPU process until they have (<c>DeviceStartGate</c>), since their
    /// regions are known only then. The monitor and the spares start once all have attached.
    /// </summary>
    private async Task StartMachineAsync(CancellationToken cancellationToken)
    {
        // Every process of the machine starts at once: a process start (the runtime's start-up, connecting back) needs
        // nothing from the others; only a device process's attach needs the CPU process's ring for it. On a machine
        // of several isolated devices their start-ups overlap one another and the CPU process's instead of adding up.
        DeviceProcess[] deviceProcesses =
        [
            .. _profile.Devices
                .Where(d => DevicePlacement.ProcessKey(d) is not null)
                .GroupBy(d => DevicePlacement.ProcessKey(d)!)
                .Select(group => new DeviceProcess(group.Key, [.. group])),
        ];
        foreach (DeviceProcess deviceProcess in deviceProcesses)
        {
            _deviceProcesses.Add(deviceProcess.Key, deviceProcess); // in profile order, before any of them runs
        }

        if (deviceProcesses.Length > 0 && _profile.Sandbox == SandboxMode.Off)
        {
            _log.WriteLine($"splitemu: warning: machine '{_profile.Name}' runs its device processes outside the sandbox (\"sandbox\": \"off\"): an exploited device has the launcher's rights");
        }

        foreach (DeviceProcess deviceProcess in deviceProcesses)
        {
            deviceProcess.Starting = StartProcessAsync(deviceProcess, Label(deviceProcess.Key, 0), cancellationToken);
        }

        long cpuSpawned = Stopwatch.GetTimestamp();
        _cpu = await ChildProcess.StartAsync(HostExecutables.CpuHost, "cpu", _runFolder, _console, _log, cancellationToken).ConfigureAwait(false);
        _cpuControl = _cpu.Rpc.Attach<ICpuHostControl>();
        await ControlDeadline.CallAsync(_cpuControl.ConfigureAsync(new CpuHostSetup { Profile = _profile, ShmPrefix = _shmPrefix }, cancellationToken), _cpu, "configure").ConfigureAwait(false);
        _cpuStartUp = Stopwatch.GetElapsedTime(cpuSpawned);

        _attachCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _attaching = AttachDeviceProcessesAsync(deviceProcesses, _attachCancel.Token);
    }

    private async Task AttachDeviceProcessesAsync(DeviceProcess[] deviceProcesses, CancellationToken cancellationToken)
    {
        await Task.WhenAll(deviceProcesses.Select(p => StartDeviceProcessAsync(p, cancellationToken))).ConfigureAwait(false);
        if (!cancellationToken.IsCancellationRequested) // the guest may have ended meanwhile: nothing to start for it
        {
            StartSpares(deviceProcesses);
            StartMonitor();
        }
    }

    /// <summary>
    /// The guest ended. An attach that failed stopped it: that failure is the run's, as a failed start was (rethrown).
    /// Attaches still going are not needed any more: cancelled and waited for, so nothing they start outlives the run;
    /// one that fails now is reported, but the guest's own end stands.
    /// </summary>
    private async Task EndAttachingAsync()
    {
        if (_attaching is not { } attaching)
        {
            return;
        }

        if (attaching.IsFaulted)
        {
            await attaching.ConfigureAwait(false);
        }

        _attachCancel!.Cancel();
        await attaching.ContinueWith(
            t =>
            {
                if (t.Exception?.InnerException is { } late and not OperationCanceledException)
                {
                    _log.WriteLine($"splitemu: a device process could not attach before the machine ended: {late.Message}");
                }
            },
            TaskScheduler.Default).ConfigureAwait(false);
    }

    /// <summary>The device processes' first attaches, running beside the guest from the CPU process's configuration on.</summary>
    private Task? _attaching;

    /// <summary>Cancels <see cref="_attaching"/> once the guest has ended (or the run is stopped).</summary>
    private CancellationTokenSource? _attachCancel;

    private async Task StartDeviceProcessAsync(DeviceProcess deviceProcess, CancellationToken cancellationToken)
    {
        try
        {
            await StartIncarnationAsync(deviceProcess, cancellationToken).ConfigureAwait(false);
        }
        catch (RemoteInvocationException ex)
        {
            // The process's own words (a disk image it cannot open), and whose they are: which process, and where it runs.
            string where = deviceProcess.Hosts.Count > 0 ? $" on host '{deviceProcess.Hosts[deviceProcess.HostIndex]}'" : "";
            throw new RemoteInvocationException($"device process '{deviceProcess.Key}'{where}: {ex.Message}", ex.ErrorCode, ex.ErrorData);
        }

        ScheduleTimedCrashes(deviceProcess);
    }

    /// <summary>Starts incarnation <see cref="DeviceProcess.Epoch"/> of a device process and binds it to the CPU process.</summary>
    private async Task StartIncarnationAsync(DeviceProcess device, CancellationToken cancellationToken)
    {
        string key = device.Key;
        ulong segmentFromCpu = await ControlDeadline.CallAsync(_cpuControl!.CreateChannelAsync(new ChannelRequest { ProcessKey = key, Epoch = device.Epoch }, cancellationToken), _cpu!, "create-channel").ConfigureAwait(false);
        int segment = ReceiveFromCpu(segmentFromCpu, "its ring");
        // Guest RAM is fetched for each bus-master start and let go right after, so the launcher (dumpable: it is
        // the user's own process) never holds it between starts.
        GuestMemoryShare? guestMemory = null;
        int guestMemoryDescriptor = -1;
        ChildProcess child;
        ulong segmentToDevice;
        ulong? guestMemoryToDevice = null;
        try
        {
            if (device.Devices.Any(IsBusMaster))
            {
                guestMemory = await ControlDeadline.CallAsync(_cpuControl.GetGuestMemoryAsync(cancellationToken), _cpu!, "get-guest-memory").ConfigureAwait(false);
                guestMemoryDescriptor = ReceiveFromCpu(guestMemory.Descriptor, "guest RAM");
            }

            // A spare is a device host of this machine: a remote device process never takes one.
            device.FromSpare = _spares is { } pool && device.Hosts.Count == 0 ? await pool.TakeAsync(Label(key, device.Epoch), OutputGateFor(device)).ConfigureAwait(false) : null;
            child = device.FromSpare ?? await TakeStartingAsync(device) ?? await StartProcessAsync(device, Label(key, device.Epoch), cancellationToken).ConfigureAwait(false);
            device.Child = child;
            // The device process gets the memory it may map as descriptors, before the request that names them:
            // its ring always, guest RAM only when one of its devices masters the bus.
            segmentToDevice = child.Descriptors.Send(segment);
            if (guestMemory is not null)
            {
                guestMemoryToDevice = child.Descriptors.Send(guestMemoryDescriptor);
            }
        }
        finally
        {
            DescriptorChannel.Release(segment);
            DescriptorChannel.Release(guestMemoryDescriptor);
        }

        device.Control = child.Rpc.Attach<IDeviceHostControl>();
        DeviceHostAttachResult attached = await ControlDeadline.CallAsync(device.Control.AttachAsync(
            new DeviceHostAttachRequest
            {
                SegmentDescriptor = segmentToDevice,
                Devices = device.Devices,
                WaitPolicy = device.Devices[0].WaitPolicy,
                SpinBudget = device.Devices[0].SpinBudget,
                ServingCore = CorePlacement.ServingCoreOf(device.Devices[0].WaitPolicy, _profile.Cpu.Count),
                RamBytes = (ulong)_profile.Memory.SizeMiB << 20,
                CpuCount = _profile.Cpu.Count,
                GuestMemory = guestMemoryToDevice is ulong token ? guestMemory! with { Descriptor = token } : null,
            },
            cancellationToken), child, "attach").ConfigureAwait(false);
        // Nothing more is passed to an attached process; its end of the channel must not fill the launcher's queue.
        child.Descriptors.Dispose();
        device.UpAt = Stopwatch.GetTimestamp();
        await ControlDeadline.CallAsync(_cpuControl.BindChannelAsync(
            new ChannelBinding
            {
                ProcessKey = key,
                ProcessId = child.ProcessId,
                DeviceIds = device.Devices.Select(d => d.Id).ToArray(),
                Regions = attached.Regions,
                IrqLines = device.Devices.Select(IrqLinesOf).ToArray(),
                EventGrants = device.Devices.Select(EventGrantOf).ToArray(),
            },
            cancellationToken), _cpu!, "bind-channel").ConfigureAwait(false);
        device.FirstBoundAt ??= _wall.Elapsed;

        // The launcher learns of a death from the process itself; the CPU process also watches it (pidfd).
        child.Process.Exited += (_, _) => OnDeviceProcessExited(device, child);
        if (child.Process.HasExited)
        {
            OnDeviceProcessExited(device, child);
        }

        _spares?.Fill(); // the spare this start took (if it took one) is replaced now that its attach is done
    }

    /// <summary>The first incarnation's process, started beside the CPU process (<see cref="StartMachineAsync"/>), if there is one.</summary>
    private static async Task<ChildProcess?> TakeStartingAsync(DeviceProcess device)
    {
        Task<ChildProcess>? starting = device.Starting;
        device.Starting = null;
        return starting is null ? null : await starting.ConfigureAwait(false);
    }

    /// <summary>
    /// A descriptor the CPU process passed under <paramref name="token"/>; one that does not come in time (or a broken
    /// channel) fails the start like any control call past its deadline.
    /// </summary>
    private int ReceiveFromCpu(ulong token, string what)
    {
        try
        {
            return _cpu!.Descriptors.Receive(token, ControlDeadline.Default);
        }
        catch (Exception ex) when (ex is TimeoutException or IOException or ObjectDisposedException)
        {
            throw new ControlTimeoutException($"the CPU process did not pass {what}: {ex.Message}");
        }
    }

    /// <summary>The lines a device may drive: its profile's irq and the lines its type always drives.</summary>
    private static IReadOnlyList<int> IrqLinesOf(DeviceConfig device) =>
        [.. (DeviceCatalog.Find(device.Type)?.FixedIrqs ?? []).Concat(device.Irq is int irq ? [irq] : [])];

    /// <summary>Whether the device masters the bus (DMA into guest RAM): only then does its process map guest memory.</summary>
    private static bool IsBusMaster(DeviceConfig device) => DeviceCatalog.Find(device.Type) is { BusMaster: true };

    private static DeviceEventGrant EventGrantOf(DeviceConfig device) =>
        new(DeviceCatalog.Find(device.Type) is { EndsMachine: true }, IsBusMaster(device));

    private static string Label(string key, uint epoch) => epoch == 0 ? key : $"{key}.{epoch}";

    /// <summary>
    /// Starts the machine's warm spares once every device process is up, so their start-up never delays the
    /// machine's: a restart then costs an attach instead of a process start (tens of milliseconds instead of hundreds
    /// on the JIT host). The profile's <c>spares</c>, else <see cref="ProfileDefaults.DefaultSpares"/> but no more
    /// than the device processes that may restart; none when none may.
    /// </summary>
    private void StartSpares(IEnumerable<DeviceProcess> deviceProcesses)
    {
        int restartable = deviceProcesses.Count(p => p.Devices[0].Restart.Policy != RestartPolicy.Never);
        int size = restartable == 0 ? 0 : _profile.Spares ?? Math.Min(ProfileDefaults.DefaultSpares, restartable);
        if (size == 0)
        {
            return;
        }

        SparePool pool = new(size, (label, output) =>
            ChildProcess.StartAsync(HostExecutables.DeviceHost, label, _runFolder, output, _log, _stoppingSource.Token, [.. DeviceHostFlags(), "--spare"]));
        // Published before the stop is looked at: a stop that comes after this sees the pool and closes it, one that
        // came before is seen here.
        _spares = pool;
        if (_stopping)
        {
            pool.Close();
            return;
        }

        pool.Fill();
    }

    /// <summary>The device host's flags for this machine: sandboxed unless the profile turned the sandbox off.</summary>
    private string[] DeviceHostFlags() => _profile.Sandbox == SandboxMode.Strict ? [DeviceSandbox.Flag] : [];

    /// <summary>
    /// Starts a process for <paramref name="device"/>'s next incarnation: a device host here, or for a device on another
    /// host a remote bridge to the host it is on now (docs/remote-devices.md), which the profile's sandbox applies to there.
    /// </summary>
    private Task<ChildProcess> StartProcessAsync(DeviceProcess device, string label, CancellationToken cancellationToken)
    {
        if (device.Hosts.Count == 0)
        {
            return ChildProcess.StartAsync(HostExecutables.DeviceHost, label, _runFolder, OutputGateFor(device), _log, cancellationToken, DeviceHostFlags());
        }

        HostConfig host = _profile.Hosts[device.Hosts[device.HostIndex]];
        string[] flags = RemoteCommands.BridgeArguments(host, _profile.Sandbox == SandboxMode.Strict);
        return ChildProcess.StartAsync(HostExecutables.RemoteBridge, label, _runFolder, OutputGateFor(device), _log, cancellationToken, flags);
    }

    /// <summary>
    /// After <paramref name="device"/>'s remote host was lost (its bridge said so, or a start there failed), its next
    /// incarnation goes to the next host of its failover list; after the last it stays there.
    /// </summary>
    private void FailOver(DeviceProcess device, string why)
    {
        if (device.HostIndex + 1 < device.Hosts.Count)
        {
            device.HostIndex++;
            _log.WriteLine($"splitemu: device process '{device.Key}': {why}; failing over to host '{device.Hosts[device.HostIndex]}'");
        }
    }

    /// <summary>The console and logs as a device process may reach them: under its own devices' ids only.</summary>
    private DeviceOutputGate OutputGateFor(DeviceProcess device) => new(device.Key, device.Devices.Select(d => d.Id), _console, _log);

    private void OnDeviceProcessExited(DeviceProcess device, ChildProcess child)
    {
        // Exited and the HasExited check can both report one death: claim it once. Deaths are never dropped:
        // an incarnation may die while the recovery that started it is still finishing.
        if (_stopping || !child.TryClaimExit())
        {
            return;
        }

        long seenAt = Stopwatch.GetTimestamp();
        Task recovery = Task.Run(async () =>
        {
            await device.RecoveryGate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (device.Child == child)
                {
                    await RecoverAsync(device, child, seenAt).ConfigureAwait(false);
                }
            }
            finally
            {
                device.RecoveryGate.Release();
            }
        });
        lock (_recoveries)
        {
            _recoveries.Add(recovery);
        }
    }

    /// <summary>Restarts a crashed device process as its policy says, or gives up as it says.</summary>
    private async Task RecoverAsync(DeviceProcess device, ChildProcess dead, long seenAt)
    {
        try
        {
            device.KeepDeadOutput(dead.LastLines);
            string? killedBy = await ControlDeadline.CallAsync(_cpuControl!.DeviceProcessExitedAsync(device.Key, CancellationToken.None), _cpu!, "device-process-exited").ConfigureAwait(false);
            if (device.KillAsked == dead)
            {
                killedBy = "killed as requested (" + device.KillAskedBy + ")";
            }

            // A crash someone asked for is no news in crash-test (its summary counts them); anything else is.
            bool requested = killedBy is not null && killedBy.StartsWith("killed as requested", StringComparison.Ordinal);
            if (!requested || _options.ReportRequestedKills)
            {
                _log.WriteLine($"splitemu: device process '{device.Key}' (pid {dead.ProcessId}, epoch {device.Epoch}) {killedBy ?? DescribeExit(dead)}");
            }

            device.LastProcessId = dead.ProcessId;
            if (device.Hosts.Count > 0 && dead.Process.HasExited && dead.Process.ExitCode == RemoteBridge.RemoteLost)
            {
                FailOver(device, $"host '{device.Hosts[device.HostIndex]}' was lost");
            }

            device.Child = null; // disposed below: nothing may touch its Process any more
            await dead.DisposeAsync().ConfigureAwait(false);
            while (!_stopping)
            {
                TimeSpan? delay = device.Tracker.OnCrash(_clock.Elapsed, requested, out string giveUpReason);
                if (delay is null)
                {
                    device.GaveUp = giveUpReason;
                    _log.WriteLine($"splitemu: giving up on device process '{device.Key}': {giveUpReason}; action: {device.Devices[0].Restart.GiveUp}");
                    await ControlDeadline.CallAsync(_cpuControl.GiveUpDeviceProcessAsync(device.Key, device.Devices[0].Restart.GiveUp, giveUpReason, CancellationToken.None), _cpu!, "give-up-device-process").ConfigureAwait(false);
                    return;
                }

                try
                {
                    await Task.Delay(delay.Value, _stoppingSource.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return; // the machine ended during the back-off: nothing to restart into
                }

                device.Epoch++;
                long startAt = Stopwatch.GetTimestamp();
                try
                {
                    await StartIncarnationAsync(device, _stoppingSource.Token).ConfigureAwait(false);
                    device.Restarts.Add(new LaunchRestart(device.Epoch - 1, seenAt, startAt, device.UpAt, device.FromSpare is not null));
                    return;
                }
                catch (OperationCanceledException) when (_stopping)
                {
                    await DisposeFailedIncarnationAsync(device).ConfigureAwait(false);
                    return; // the machine ended during the restart
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException or RemoteInvocationException or ConnectionLostException or ControlTimeoutException)
                {
                    _log.WriteLine($"splitemu: restarting device process '{device.Key}' failed: {ex.Message}");
                    await DisposeFailedIncarnationAsync(device).ConfigureAwait(false);
                    if (device.Hosts.Count > 0)
                    {
                        FailOver(device, $"it could not start on host '{device.Hosts[device.HostIndex]}'");
                    }

                    _spares?.Fill(); // the spare it may have taken is replaced, as after a successful attach
                }
            }
        }
        catch (Exception ex) when (ex is ConnectionLostException or ObjectDisposedException or RemoteInvocationException)
        {
            // The machine is ending; nothing to recover into.
        }
        catch (ControlTimeoutException ex)
        {
            _log.WriteLine($"splitemu: recovering device process '{device.Key}' failed: {ex.Message}");
        }
    }

    /// <summary>
    /// Ends an incarnation whose start failed after it got a process (an attach or bind refused or timed out): its
    /// last lines are kept if it died, and a live one is not left running beside its successor.
    /// </summary>
    private static async Task DisposeFailedIncarnationAsync(DeviceProcess device)
    {
        if (device.Child is not { } failed)
        {
            return;
        }

        device.Child = null;
        if (failed.Process.HasExited)
        {
            device.KeepDeadOutput(failed.LastLines);
        }

        await failed.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The machine is ending: no device process is restarted from now on.</summary>
    private void MarkStopping()
    {
        _stopping = true;
        _spares?.Close();
        _stoppingSource.Cancel();
    }

    /// <summary>Crash injection by time: kill the process T ms after the machine started.</summary>
    private void ScheduleTimedCrashes(DeviceProcess device)
    {
        if (device.Devices.Select(d => d.Crash?.AfterMs).FirstOrDefault(ms => ms is not null) is int afterMs)
        {
            device.Timer = new Timer(
                _ =>
                {
                    if (!_stopping && device.Child is { } child)
                    {
                        device.TimedKillAt = Stopwatch.GetTimestamp();
                        device.KillAsked = child;
                        device.KillAskedBy = $"crash injection after {afterMs} ms";
                        child.Kill();
                    }
                },
                null,
                TimeSpan.FromMilliseconds(afterMs),
                Timeout.InfiniteTimeSpan);
        }
    }

    private async Task<MachineExitInfo> RunGuestAsync(CancellationToken cancellationToken)
    {
        using Timer? timeout = _options.Timeout is TimeSpan limit
            ? new Timer(_ => RequestStop(ExitReason.Timeout), null, limit, Timeout.InfiniteTimeSpan)
            : null;

        _startUp = _wall.Elapsed;
        _guestRunning = true;
        Task<MachineExitInfo> run = _cpuControl!.RunAsync(CancellationToken.None);
        if (cancellationToken.IsCancellationRequested)
        {
            RequestStop(ExitReason.Stopped); // asked before the CPU process could take it
        }

        Task cpuExited = _cpu!.Process.WaitForExitAsync(CancellationToken.None);
        Task first = await Task.WhenAny(run, cpuExited).ConfigureAwait(false);
        _guestStopped = true;
        if (first == run && run.IsFaulted && _stopKilledCpu)
        {
            // The stop deadline killed the CPU process and its connection dropped before its exit was seen:
            // that is the stop, not a failure (a loaded machine makes this order as likely as the other).
            await cpuExited.WaitAsync(ControlDeadline.Default).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
        else if (first == run)
        {
            return await run.ConfigureAwait(false);
        }

        if (_stopKilledCpu)
        {
            return new MachineExitInfo
            {
                Reason = _stopReason,
                ExitCode = _stopReason == ExitReason.Timeout ? ExitCodes.Timeout : ExitCodes.Interrupted,
                Instructions = 0,
                Detail = $"the CPU process did not stop within {ControlDeadline.Default.TotalSeconds:F0} s of the stop request; killed it",
            };
        }

        return new MachineExitInfo
        {
            Reason = ExitReason.DeviceFailure,
            ExitCode = ExitCodes.Failure,
            Instructions = 0,
            Detail = $"the CPU process exited with code {_cpu.Process.ExitCode}",
        };
    }

    /// <summary>Kills the CPU process if it has not stopped a deadline after the first stop request.</summary>
    private Timer? _stopOverdue;

    /// <summary>Why the first stop was requested, and whether its deadline had to kill the CPU process.</summary>
    private ExitReason _stopReason = ExitReason.Stopped;
    private volatile bool _stopKilledCpu;

    /// <summary>The CPU process answered the run (or died): from then on no stop deadline applies.</summary>
    private volatile bool _guestStopped;

    private void RequestStop(ExitReason reason, string? why = null)
    {
        if (_cpuControl is not { } control)
        {
            return; // not started yet: RunGuestAsync checks the token once it has started the machine
        }


        string detail = reason == ExitReason.Stopped ? why ?? _options.Stop?.Detail ?? "stopped by the launcher" : "stopped by the launcher";
        control.RequestStopAsync(reason, detail, CancellationToken.None).ContinueWith(
            t => _ = t.Exception, // not configured yet, or already gone: the run's own checks cover both
            TaskScheduler.Default);

        // A CPU process that does not stop (SIGSTOPped, wedged) is killed: SIGTERM and --timeout always end the run.
        if (_cpu is { } cpu)
        {
            Timer overdue = new(_ =>
            {
                if (!cpu.Process.HasExited && _guestRunning && !_guestStopped)
                {
                    _stopKilledCpu = true;
                    cpu.Kill();
                }
            });
            if (Interlocked.CompareExchange(ref _stopOverdue, overdue, null) is null)
            {
                _stopReason = reason;
                overdue.Change(ControlDeadline.Default, Timeout.InfiniteTimeSpan);
            }
            else
            {
                overdue.Dispose(); // the first stop request's deadline stands
            }
        }
    }

    /// <summary>A question to the CPU process while the machine stops: past its deadline the process is killed and the report does without.</summary>
    private async Task<T> AskCpuWhileStoppingAsync<T>(Func<Task<T>> ask, string what, T without)
    {
        try
        {
            return await ControlDeadline.CallAsync(ask(), _cpu!, what).ConfigureAwait(false);
        }
        catch (ControlTimeoutException ex)
        {
            _log.WriteLine($"splitemu: {ex.Message}");
            return without;
        }
        catch (Exception ex) when (ex is ConnectionLostException or RemoteInvocationException or ObjectDisposedException)
        {
            return without;
        }
    }

    private async Task<RunReport> StopAndReportAsync(MachineExitInfo exit, TimeSpan wallTime)
    {
        _console.StopHoldingBack(); // a console reader that lags must not hold the stop up
        Task[] recoveries;
        lock (_recoveries)
        {
            recoveries = [.. _recoveries];
        }

        await Task.WhenAll(recoveries).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        bool cpuAnswers = _cpu is not null && _cpuControl is not null && _guestRunning && !_cpu.Process.HasExited;
        IReadOnlyList<CrashRecord> crashes = !cpuAnswers
            ? []
            : await AskCpuWhileStoppingAsync(() => _cpuControl!.GetCrashRecordsAsync(CancellationToken.None), "get-crash-records", (IReadOnlyList<CrashRecord>)[]).ConfigureAwait(false);
        Dictionary<string, DeviceAccessStats> served = new(StringComparer.Ordinal);
        Dictionary<string, int> processIds = new(StringComparer.Ordinal);
        foreach (DeviceProcess device in _deviceProcesses.Values)
        {
            device.Timer?.Dispose();
            foreach (DeviceConfig config in device.Devices)
            {
                processIds[config.Id] = device.Child?.ProcessId ?? device.LastProcessId;
            }

            if (device.Child is null)
            {
                continue;
            }

            if (device.Child.Process.HasExited || device.Control is null)
            {
                continue;
            }

            try
            {
                DeviceHostStopResult stopped = await ControlDeadline.CallAsync(device.Control.StopAsync(CancellationToken.None), device.Child, "stop").ConfigureAwait(false);
                foreach (DeviceAccessStats stats in stopped.Devices)
                {
                    served[stats.DeviceId] = stats;
                    await _console.WaitForAsync(stats.DeviceId, stats.OutputBytes, s_outputDrainTimeout).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is ConnectionLostException or RemoteInvocationException or ObjectDisposedException or ControlTimeoutException)
            {
                _log.WriteLine($"splitemu: device process '{device.Key}' did not stop cleanly: {ex.Message}");
            }
        }

        IReadOnlyList<DeviceAccessStats> cpuSide = !cpuAnswers || _cpu!.Process.HasExited
            ? []
            : await AskCpuWhileStoppingAsync(() => _cpuControl!.GetDeviceStatsAsync(CancellationToken.None), "get-device-stats", (IReadOnlyList<DeviceAccessStats>)[]).ConfigureAwait(false);
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
                Reason = KebabCaseEnum.ToName(exit.Reason),
                Code = exit.ExitCode,
                GuestValue = exit.GuestValue,
                Detail = exit.Detail,
            },
            Instructions = exit.Instructions,
            Cpu = exit.Cpu,
            WallTimeMs = wallTime.TotalMilliseconds,
            StartUpMs = _startUp.TotalMilliseconds,
            CpuStartUpMs = Math.Round(_cpuStartUp.TotalMilliseconds, 1),
            CpuProcessId = _cpu?.ProcessId ?? 0,
            CpuHost = _cpu?.Kind,
            Devices = _profile.Devices.Select(d => new DeviceSection
            {
                Id = d.Id,
                Type = d.Type,
                Placement = KebabCaseEnum.ToName(d.Placement),
                Group = d.Group,
                ProcessId = processIds.GetValueOrDefault(d.Id, _cpu?.ProcessId ?? 0),
                Host = DeviceProcessOf(d)?.Child?.Kind,
                RemoteHost = DeviceProcessOf(d) is { Hosts.Count: > 0 } remote ? remote.Hosts[remote.HostIndex] : null,
                AttachedMs = DeviceProcessOf(d)?.FirstBoundAt is TimeSpan bound ? Math.Round(bound.TotalMilliseconds, 1) : null,
                Sandbox = DeviceProcessOf(d) is null ? null : KebabCaseEnum.ToName(_profile.Sandbox),
                Accesses = new AccessSection
                {
                    Reads = served.GetValueOrDefault(d.Id)?.Reads ?? 0,
                    Writes = served.GetValueOrDefault(d.Id)?.Writes ?? 0,
                    BusErrors = cpuSide.FirstOrDefault(s => s.DeviceId == d.Id)?.BusErrors ?? 0,
                },
                OutputBytes = _console.Received(d.Id),
                Restarts = DeviceProcessOf(d)?.Restarts.Count ?? 0,
                GaveUp = DeviceProcessOf(d)?.GaveUp,
                Crashes = DeviceProcessOf(d) is { } process ? CrashSections(process, crashes) : null,
                ProcessOutput = DeviceProcessOf(d) is { DeadOutput.Count: > 0 } crashed ? [.. crashed.DeadOutput] : null,
            }).ToArray(),
            ConsoleDuplicatesDropped = _console.DuplicateBytesDropped,
            Spares = _spares is { } pool ? new SparesSection { Size = pool.Size, Started = pool.Started } : null,
            MonitorSocket = _monitor?.SocketPath,
        };
    }

    private DeviceProcess? DeviceProcessOf(DeviceConfig device) =>
        DevicePlacement.ProcessKey(device) is { } key ? _deviceProcesses.GetValueOrDefault(key) : null;

    /// <summary>The crashes of one device process, with the launcher's and the CPU process's times joined by epoch.</summary>
    private static IReadOnlyList<CrashSection>? CrashSections(DeviceProcess device, IReadOnlyList<CrashRecord> records)
    {
        CrashRecord[] mine = records.Where(r => r.ProcessKey == device.Key).OrderBy(r => r.Epoch).ToArray();
        if (mine.Length == 0 && device.GaveUp is null)
        {
            return null;
        }

        return mine.Select(r =>
        {
            LaunchRestart? restart = device.Restarts.FirstOrDefault(x => x.DeadEpoch == r.Epoch);
            long killedAt = r.KilledAt != 0 ? r.KilledAt : device.TimedKillAt;
            return new CrashSection
            {
                Epoch = r.Epoch,
                Reason = r.Reason,
                DetectMs = killedAt != 0 && r.DetectedAt >= killedAt ? Milliseconds(r.DetectedAt - killedAt) : null,
                RestartMs = restart is not null && r.DetectedAt != 0 ? Milliseconds(restart.Value.UpAt - r.DetectedAt) : null,
                FromSpare = restart?.FromSpare,
                RestoreMs = r.RestoredAt != 0 ? Milliseconds(r.RestoredAt - r.RestoreStartedAt) : null,
                GuestBlockedMs = r.RestoredAt != 0 && (killedAt != 0 ? killedAt : r.DetectedAt) is long from and not 0 ? Milliseconds(r.RestoredAt - from) : null,
                Replayed = r.Replayed,
                Divergences = r.Divergences,
                ResetDevices = r.ResetDevices.Count > 0 ? r.ResetDevices : null,
            };
        }).ToArray();
    }

    private static double Milliseconds(long stopwatchTicks) => stopwatchTicks * 1000.0 / Stopwatch.Frequency;

    /// <summary>The report's detail for a machine ended by the monitor's <c>quit</c>.</summary>
    public const string MonitorQuitDetail = "stopped by monitor quit";

    /// <summary>Starts the monitor socket and, on a terminal, the status line (launch/Monitor).</summary>
    private void StartMonitor()
    {
        _monitor = MonitorServer.TryStart(
            new MonitorHooks
            {
                Profile = _profile,
                ProfileName = _profileName,
                Cpu = _cpuControl!,
                CpuProcessId = _cpu!.ProcessId,
                Uptime = () => _clock.Elapsed,
                OutputBytes = _console.Received,
                DeviceProcess = key => _deviceProcesses.GetValueOrDefault(key) is { } d
                    ? new MonitorProcessView(AliveProcessId(d.Child), d.Epoch, d.Restarts.Count, d.RecoveryGate.CurrentCount == 0, d.GaveUp, d.Child?.Kind)
                    : null,
                KillDeviceProcess = key =>
                {
                    if (_stopping || _deviceProcesses.GetValueOrDefault(key) is not { Child: { } child } device || AliveProcessId(child) == 0)
                    {
                        return null;
                    }

                    device.TimedKillAt = Stopwatch.GetTimestamp(); // the report's detect time counts from here
                    device.KillAsked = child;
                    device.KillAskedBy = "monitor";
                    child.Kill();
                    return child.ProcessId;
                },
                Quit = () =>
                {
                    // Through the user's stop request when there is one, so the report says who stopped it.
                    if (_options.Stop is { } user)
                    {
                        user.Quit(MonitorQuitDetail);
                    }
                    else
                    {
                        RequestStop(ExitReason.Stopped, MonitorQuitDetail);
                    }
                },
            },
            _log);
        if (_monitor is not null)
        {
            _status?.Start(_monitor.MonitorName, _monitor.GetStatsAsync);
        }
    }

    /// <summary>The process id of a child that is still running, else 0 (also for one already disposed).</summary>
    private static int AliveProcessId(ChildProcess? child)
    {
        try
        {
            return child is { Process.HasExited: false } ? child.ProcessId : 0;
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        MarkStopping();
        if (_stopOverdue is not null)
        {
            await _stopOverdue.DisposeAsync().ConfigureAwait(false);
        }

        if (_monitor is not null)
        {
            await _monitor.DisposeAsync().ConfigureAwait(false);
        }

        if (_status is not null)
        {
            await _status.DisposeAsync().ConfigureAwait(false);
        }
        foreach (DeviceProcess device in _deviceProcesses.Values)
        {
            device.Timer?.Dispose();
            if (device.Child is not null)
            {
                await device.Child.DisposeAsync().ConfigureAwait(false);
            }

            // Started beside a CPU process that then failed to start: never attached.
            if (device.Starting is { } starting && await ChildProcess.LiveOnceStartedAsync(starting).ConfigureAwait(false) is { } unattached)
            {
                await unattached.DisposeAsync().ConfigureAwait(false);
            }

        }

        if (_spares is not null)
        {
            await _spares.DisposeAsync().ConfigureAwait(false);
        }

        if (_cpu is not null)
        {
            await _cpu.DisposeAsync().ConfigureAwait(false);
        }

        if (!_console.DrainConsole(s_consoleDrainTimeout))
        {
            _log.WriteLine($"splitemu: the console's reader did not take the last {_console.ConsoleBacklog} bytes within {s_consoleDrainTimeout.TotalSeconds:F0} s; they are not shown");
        }

        _console.Dispose();
        _attachCancel?.Dispose();
        Directory.Delete(_runFolder, recursive: true);
        foreach (Stream log in _deviceLogs.Values)
        {
            await log.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>How a device process ended on its own: its exit code, or the signal that killed it.</summary>
    private static string DescribeExit(ChildProcess dead)
    {
        const int SigSys = 31;
        int code = dead.Process.ExitCode;
        return code switch
        {
            128 + SigSys => "was killed by the sandbox (SIGSYS: it made a system call the seccomp filter forbids)",
            > 128 and < 160 => $"exited unexpectedly (killed by signal {code - 128})",
            _ => $"exited unexpectedly (exit code {code})",
        };
    }

    /// <summary>
    /// A forced stop (second Ctrl-C): kills the CPU process, every device process and spare at once, so that the
    /// run ends now; the clean-up of files still follows in <see cref="DisposeAsync"/>.
    /// </summary>
    private void KillEverything()
    {
        MarkStopping();
        _cpu?.Kill();
        foreach (DeviceProcess device in _deviceProcesses.Values)
        {
            device.Child?.Kill();
            if (device.Starting is { IsCompletedSuccessfully: true } starting)
            {
                starting.Result.Kill();
            }
        }

        _spares?.KillAll();
    }

    /// <summary>A device process across its incarnations, as the launcher supervises it.</summary>
    private sealed class DeviceProcess(string key, DeviceConfig[] devices)
    {
        public string Key { get; } = key;

        public DeviceConfig[] Devices { get; } = devices;

        public RestartTracker Tracker { get; } = new(devices[0].Restart);

        /// <summary>The hosts it may run on, in the order it fails over to them; empty: this machine.</summary>
        public IReadOnlyList<string> Hosts { get; } = devices[0].Host is { } host ? [host, .. devices[0].Failover] : [];

        /// <summary>The entry of <see cref="Hosts"/> the next incarnation starts on.</summary>
        public int HostIndex { get; set; }

        /// <summary>Incarnation running (or starting).</summary>
        public uint Epoch { get; set; }

        public ChildProcess? Child { get; set; }

        public IDeviceHostControl? Control { get; set; }

        /// <summary>Process id of the last incarnation that died (for the report once it is gone).</summary>
        public int LastProcessId { get; set; }

        /// <summary>When the current incarnation finished attaching.</summary>
        public long UpAt { get; set; }

        /// <summary>When the first incarnation's regions were mapped, on the run's wall clock (the guest may have run before); null until then.</summary>
        public TimeSpan? FirstBoundAt { get; set; }

        /// <summary>When a time-based injection killed it, or 0.</summary>
        public long TimedKillAt { get; set; }

        /// <summary>The incarnation the launcher killed on request (profile timer, monitor), and who asked.</summary>
        public ChildProcess? KillAsked { get; set; }

        /// <summary>Who asked for <see cref="KillAsked"/>'s death.</summary>
        public string? KillAskedBy { get; set; }

        public Timer? Timer { get; set; }

        /// <summary>The first incarnation's process while it starts beside the CPU process, until its attach takes it.</summary>
        public Task<ChildProcess>? Starting { get; set; }

        /// <summary>The current incarnation's process if it was a warm spare, else null (a process started for it).</summary>
        public ChildProcess? FromSpare { get; set; }

        /// <summary>One recovery at a time, in the order the deaths happened.</summary>
        public SemaphoreSlim RecoveryGate { get; } = new(1, 1);

        public List<LaunchRestart> Restarts { get; } = [];

        /// <summary>Why restarting was given up, or null.</summary>
        public string? GaveUp { get; set; }

        /// <summary>What crashed incarnations printed last (kept for the report; the last <see cref="ChildProcess.KeptLines"/> lines).</summary>
        public List<string> DeadOutput { get; } = [];

        /// <summary>Adds a dead incarnation's last lines; a campaign of many crashes keeps only the newest.</summary>
        public void KeepDeadOutput(IReadOnlyList<string> lines)
        {
            DeadOutput.AddRange(lines);
            if (DeadOutput.Count > ChildProcess.KeptLines)
            {
                DeadOutput.RemoveRange(0, DeadOutput.Count - ChildProcess.KeptLines);
            }
        }
    }

    /// <summary>One restart as the launcher saw it (Stopwatch timestamps).</summary>
    private readonly record struct LaunchRestart(uint DeadEpoch, long ExitSeenAt, long StartAt, long UpAt, bool FromSpare);
}
