using System.Net.Sockets;
using SplitEmu.Launch.Host;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.Launch.Monitor;

/// <summary>
/// Serves <see cref="IMonitor"/> on the machine's monitor socket (<see cref="MonitorPaths"/>) to clients of
/// this user, within <see cref="MonitorLimits"/>, until disposed; disposing closes every connection and removes
/// the socket file.
/// </summary>
public sealed class MonitorServer : IMonitor, IAsyncDisposable
{
    /// <summary>How long a pause waits for the vCPU to park.</summary>
    private const int ParkTimeoutMs = 5_000;

    /// <summary>How long the end notification may take to reach the clients before the machine goes on stopping.</summary>
    private static readonly TimeSpan s_announceTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Pause after a failed accept (out of file descriptors), so a failing accept does not spin.</summary>
    private static readonly TimeSpan s_acceptRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly MonitorHooks _hooks;
    private readonly TextWriter _log;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly MonitorLimits _limits;
    private readonly List<MonitorConnection> _connections = [];
    private readonly Task _acceptLoop;
    private readonly Task _idleSweep;

    /// <summary>How the machine ended, once it has (then also told to clients that connect later).</summary>
    private volatile MonitorMachineEnded? _ended;

    /// <summary>Whether the log already said that the client limit is reached (said again once a slot frees).</summary>
    private bool _announcedFull;
    private int _disposed;

    private MonitorServer(MonitorHooks hooks, Socket listener, string socketPath, TextWriter log)
    {
        _hooks = hooks;
        _log = log;
        _limits = MonitorLimits.FromEnvironment();
        _listener = listener;
        SocketPath = socketPath;
        _acceptLoop = Task.Run(AcceptAsync);
        _idleSweep = Task.Run(SweepIdleAsync);
    }

    /// <summary>The socket's path.</summary>
    public string SocketPath { get; }

    /// <summary>The name `splitemu monitor NAME` takes for this machine.</summary>
    public string MonitorName => MonitorPaths.NameOf(SocketPath);

    /// <summary>Starts serving; on failure logs why and returns null (the machine runs without a monitor).</summary>
    public static MonitorServer? TryStart(MonitorHooks hooks, TextWriter log)
    {
        try
        {
            Socket listener = MonitorPaths.Claim(hooks.Profile.Name, out string socketPath);
            return new MonitorServer(hooks, listener, socketPath, log);
        }
        catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException or ArgumentException)
        {
            log.WriteLine($"splitemu: machine '{hooks.Profile.Name}' runs without a monitor: {ex.Message}");
            return null;
        }
    }

    /// <inheritdoc/>
    public async Task<MonitorMachineInfo> GetMachineAsync(CancellationToken cancellationToken = default)
    {
        MonitorCpuState cpu = await CallCpuAsync(c => c.GetCpuStateAsync(cancellationToken)).ConfigureAwait(false);
        return new MonitorMachineInfo
        {
            Name = _hooks.Profile.Name,
            Profile = _hooks.ProfileName,
            LauncherProcessId = Environment.ProcessId,
            CpuProcessId = _hooks.CpuProcessId,
            Socket = SocketPath,
            UptimeMs = _hooks.Uptime().TotalMilliseconds,
            CpuState = cpu.State,
        };
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<MonitorDeviceInfo>> GetDevicesAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<RegionReport> regions = await GetRegionsAsync(cancellationToken).ConfigureAwait(false);
        return _hooks.Profile.Devices.Select(d =>
        {
            bool unplugged = IsUnplugged(d.Id, regions);
            if (DevicePlacement.ProcessKey(d) is not { } key)
            {
                return new MonitorDeviceInfo
                {
                    Id = d.Id, Type = d.Type, Placement = Kebab(d.Placement), ProcessId = _hooks.CpuProcessId,
                    State = unplugged ? "unplugged" : "running", Host = "cpu",
                };
            }

            MonitorProcessView view = _hooks.DeviceProcess(key) ?? default;
            string state = view.GaveUp is not null ? "gave-up" : unplugged ? "unplugged" : view.Restarting || view.ProcessId == 0 ? "restarting" : "running";
            return new MonitorDeviceInfo
            {
                Id = d.Id, Type = d.Type, Placement = Kebab(d.Placement), Group = d.Group, ProcessId = view.ProcessId,
                Epoch = view.Epoch, Restarts = view.Restarts, State = state, Host = view.Host,
            };
        }).ToArray();
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<RegionReport>> GetRegionsAsync(CancellationToken cancellationToken = default) =>
        CallCpuAsync(c => c.GetRegionsAsync(cancellationToken));

    /// <inheritdoc/>
    public async Task<MonitorStats> GetStatsAsync(CancellationToken cancellationToken = default)
    {
        MonitorCpuState cpu = await CallCpuAsync(c => c.GetCpuStateAsync(cancellationToken)).ConfigureAwait(false);
        IReadOnlyList<DeviceAccessStats> stats = await CallCpuAsync(c => c.GetDeviceStatsAsync(cancellationToken)).ConfigureAwait(false);
        return new MonitorStats
        {
            UptimeMs = _hooks.Uptime().TotalMilliseconds,
            Instructions = cpu.Instructions,
            CpuState = cpu.State,
            Devices = _hooks.Profile.Devices.Select(d =>
            {
                DeviceAccessStats? s = stats.FirstOrDefault(x => x.DeviceId == d.Id);
                return new MonitorDeviceStats
                {
                    Id = d.Id,
                    Reads = s?.Reads ?? 0,
                    Writes = s?.Writes ?? 0,
                    BusErrors = s?.BusErrors ?? 0,
                    OutputBytes = Math.Max(s?.OutputBytes ?? 0, _hooks.OutputBytes(d.Id)),
                    Restarts = DevicePlacement.ProcessKey(d) is { } key ? _hooks.DeviceProcess(key)?.Restarts ?? 0 : 0,
                };
            }).ToArray(),
        };
    }

    /// <inheritdoc/>
    public Task<MonitorCpuState> GetCpusAsync(CancellationToken cancellationToken = default) =>
        CallCpuAsync(c => c.GetCpuStateAsync(cancellationToken));

    /// <inheritdoc/>
    public Task<MonitorCpuState> PauseAsync(CancellationToken cancellationToken = default) =>
        CallCpuAsync(c => c.PauseAsync(ParkTimeoutMs, cancellationToken));

    /// <inheritdoc/>
    public Task<MonitorCpuState> ResumeAsync(CancellationToken cancellationToken = default) =>
        CallCpuAsync(c => c.ResumeAsync(cancellationToken));

    /// <inheritdoc/>
    public Task QuitAsync(CancellationToken cancellationToken = default)
    {
        _hooks.Quit();
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task UnplugAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        DeviceConfig device = Find(deviceId);
        IReadOnlyList<RegionReport> regions = await GetRegionsAsync(cancellationToken).ConfigureAwait(false);
        if (IsUnplugged(device.Id, regions))
        {
            throw new LocalRpcException($"device '{device.Id}' is already unplugged; plug it with: plug {device.Id}") { ErrorCode = MonitorErrors.NotPossible };
        }

        await CallCpuAsync(async c =>
        {
            await c.UnplugDeviceAsync(device.Id, cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task PlugAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        DeviceConfig device = Find(deviceId);
        IReadOnlyList<RegionReport> regions = await GetRegionsAsync(cancellationToken).ConfigureAwait(false);
        if (!IsUnplugged(device.Id, regions))
        {
            throw new LocalRpcException($"device '{device.Id}' is plugged; unplug it first with: unplug {device.Id}") { ErrorCode = MonitorErrors.NotPossible };
        }

        if (DevicePlacement.ProcessKey(device) is { } key && _hooks.DeviceProcess(key)?.GaveUp is { } why)
        {
            throw new LocalRpcException($"device '{device.Id}' cannot be plugged: its process was given up on ({why})") { ErrorCode = MonitorErrors.NotPossible };
        }

        await CallCpuAsync(async c =>
        {
            await c.ReplugDeviceAsync(device.Id, cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task<MonitorCrashResult> CrashAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        DeviceConfig device = Find(deviceId);
        if (DevicePlacement.ProcessKey(device) is not { } key)
        {
            throw new LocalRpcException($"device '{device.Id}' is inline: it runs in the CPU process, which cannot crash alone; only isolated or group devices can be crashed")
            {
                ErrorCode = MonitorErrors.NotPossible,
            };
        }

        MonitorProcessView? view = _hooks.DeviceProcess(key);
        if (view is { GaveUp: { } why })
        {
            throw new LocalRpcException($"device '{device.Id}' has no process: restarting it was given up ({why})") { ErrorCode = MonitorErrors.NotPossible };
        }

        if (view is null or { Restarting: true } || _hooks.KillDeviceProcess(key) is not int killed)
        {
            throw new LocalRpcException($"device '{device.Id}' is being restarted; try again in a moment") { ErrorCode = MonitorErrors.NotPossible };
        }

        return Task.FromResult(new MonitorCrashResult
        {
            ProcessKey = key,
            KilledProcessId = killed,
            Devices = _hooks.Profile.Devices.Where(d => DevicePlacement.ProcessKey(d) == key).Select(d => d.Id).ToArray(),
        });
    }

    /// <summary>
    /// Tells every connected client that the machine ended and how (<see cref="MonitorMachineEnded"/>); waits a
    /// moment for the notifications to be written, since the connections close soon after.
    /// </summary>
    public async Task AnnounceEndAsync(MonitorMachineEnded ended)
    {
        _ended = ended;
        MonitorConnection[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
        }

        await Task.WhenAll(connections.Select(c => NotifyEndedAsync(c.Rpc, ended)))
            .WaitAsync(s_announceTimeout)
            .ContinueWith(_ => { }, TaskScheduler.Default)
            .ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        await _idleSweep.ConfigureAwait(false);
        MonitorConnection[] connections;
        lock (_connections)
        {
            connections = [.. _connections];
            _connections.Clear();
        }

        foreach (MonitorConnection connection in connections)
        {
            connection.Rpc.Dispose();
        }

        _stop.Dispose();
        try
        {
            File.Delete(SocketPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Already gone, or the folder was removed under us: nothing to clean.
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of file descriptors (EMFILE/ENFILE) or a connection that died in the queue: that client is
                // refused; the machine and the monitor go on.
                Log($"monitor could not accept a connection: {ex.Message}");
                await Task.Delay(s_acceptRetryDelay, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            if (RefusalOf(socket) is { } refusal)
            {
                Log(refusal);
                socket.Dispose();
                continue;
            }

            BoundedMessageStream stream = new(new NetworkStream(socket, ownsSocket: true), _limits.MaxRequestBytes, "monitor client");
            JsonRpc rpc = RpcConnection.Create(stream);
            rpc.AddLocalRpcTarget(RpcTargetMetadata.FromShape<IMonitor>(), this, null);
            MonitorConnection connection = new(rpc, stream);
            lock (_connections)
            {
                if (_stop.IsCancellationRequested)
                {
                    rpc.Dispose();
                    return;
                }

                if (_connections.Count >= _limits.MaxClients)
                {
                    if (!_announcedFull)
                    {
                        _announcedFull = true;
                        Log($"monitor refuses connections: {_limits.MaxClients} clients are connected, the limit (idle ones are closed after {_limits.IdleTimeout.TotalSeconds:0.#} s)");
                    }

                    rpc.Dispose();
                    continue;
                }

                _connections.Add(connection);
            }

            rpc.StartListening();
            _ = rpc.Completion.ContinueWith(_ => Close(connection), TaskScheduler.Default);
            if (_ended is { } ended)
            {
                _ = NotifyEndedAsync(rpc, ended); // connected between the end and the socket's close
            }
        }
    }

    /// <summary>Closes clients that completed no request within the idle timeout.</summary>
    private async Task SweepIdleAsync()
    {
        using PeriodicTimer timer = new(TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, _limits.IdleTimeout.Ticks / 4)));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                MonitorConnection[] idle;
                lock (_connections)
                {
                    idle = [.. _connections.Where(c => c.Stream.SinceLastCompleteRequest > _limits.IdleTimeout)];
                }

                foreach (MonitorConnection connection in idle)
                {
                    Close(connection);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The monitor is stopping.
        }
    }

    private void Close(MonitorConnection connection)
    {
        lock (_connections)
        {
            _connections.Remove(connection);
            if (_connections.Count < _limits.MaxClients)
            {
                _announcedFull = false;
            }
        }

        if (connection.Stream.Violation is { } why)
        {
            Log($"monitor closed a client that {why}");
        }

        connection.Rpc.Dispose();
    }

    /// <summary>Sends the end notification; a client that is gone or slow misses it (its connection closes anyway).</summary>
    private static async Task NotifyEndedAsync(JsonRpc rpc, MonitorMachineEnded ended)
    {
        try
        {
            await rpc.NotifyAsync(MonitorMachineEnded.MethodName, ended).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConnectionLostException or ObjectDisposedException or IOException)
        {
            // Nobody left to tell.
        }
    }

    /// <summary>One connected monitor client.</summary>
    private sealed record MonitorConnection(JsonRpc Rpc, BoundedMessageStream Stream);

    /// <summary>Why the peer of <paramref name="socket"/> may not use the monitor, or null if it may.</summary>
    private static string? RefusalOf(Socket socket)
    {
        try
        {
            return PeerCredentials.Of(socket).RefusalBy(UnixFileStatus.CurrentUserId);
        }
        catch (SocketException ex)
        {
            return $"refused a monitor connection whose peer cannot be identified: {ex.Message}";
        }
    }

    private void Log(string message)
    {
        lock (_log)
        {
            _log.WriteLine($"splitemu: machine '{_hooks.Profile.Name}': {message}");
        }
    }

    private DeviceConfig Find(string deviceId) =>
        _hooks.Profile.Devices.FirstOrDefault(d => d.Id == deviceId)
        ?? throw new LocalRpcException($"machine '{_hooks.Profile.Name}' has no device '{deviceId}'; its devices: {string.Join(", ", _hooks.Profile.Devices.Select(d => d.Id))}")
        {
            ErrorCode = MonitorErrors.NoSuchDevice,
        };

    /// <summary>A device with regions none of which is in the map (mapped or disabled) is unplugged.</summary>
    private static bool IsUnplugged(string deviceId, IReadOnlyList<RegionReport> regions)
    {
        RegionReport[] mine = regions.Where(r => r.Owner == deviceId).ToArray();
        return mine.Length > 0 && mine.All(r => r.State is not "mapped" and not "disabled");
    }

    /// <summary>Calls the CPU process; its failures come back as monitor errors that say what failed.</summary>
    private async Task<T> CallCpuAsync<T>(Func<ICpuHostControl, Task<T>> call)
    {
        try
        {
            return await call(_hooks.Cpu).ConfigureAwait(false);
        }
        catch (RemoteInvocationException ex)
        {
            throw new LocalRpcException(ex.Message) { ErrorCode = MonitorErrors.Failed };
        }
        catch (Exception ex) when (ex is ConnectionLostException or ObjectDisposedException)
        {
            throw new LocalRpcException("the machine is ending: its CPU process no longer answers") { ErrorCode = MonitorErrors.Failed };
        }
    }

    private static string Kebab(Placement placement) => placement switch
    {
        Placement.Inline => "inline",
        Placement.Group => "group",
        _ => "isolated",
    };
}
