using System.Net.Sockets;
using SplitEmu.Launch.Host;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.Launch.Monitor;

/// <summary>A connection to a machine's monitor socket.</summary>
public sealed class MonitorClient : IDisposable
{
    /// <summary>How long to wait for a machine to answer when listing the running ones.</summary>
    private static readonly TimeSpan s_listTimeout = TimeSpan.FromSeconds(3);

    private readonly JsonRpc _rpc;

    /// <summary>Completed by the machine's end notification.</summary>
    private readonly TaskCompletionSource<MonitorMachineEnded> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MonitorClient(JsonRpc rpc, string socketPath)
    {
        _rpc = rpc;
        Monitor = rpc.Attach<IMonitor>();
        SocketPath = socketPath;
        rpc.AddLocalRpcMethod(MonitorMachineEnded.MethodName, new Action<MonitorMachineEnded>(ended => _ended.TrySetResult(ended)));
    }

    /// <summary>Completes when the machine says it has ended, and how; never if the connection closes first.</summary>
    public Task<MonitorMachineEnded> Ended => _ended.Task;

    /// <summary>Completes when the connection closes (the machine ended, or closed this idle client).</summary>
    public Task Disconnected => _rpc.Completion;

    /// <summary>The machine's monitor.</summary>
    public IMonitor Monitor { get; }

    /// <summary>The socket connected to.</summary>
    public string SocketPath { get; }

    /// <summary>Whether the connection has ended (the machine stopped).</summary>
    public bool IsDisconnected => _rpc.IsDisposed || _rpc.Completion.IsCompleted;

    /// <summary>
    /// Connects to <paramref name="machine"/>: a socket path, a run's monitor name (<c>NAME-PID</c>), or a machine
    /// name that one running machine has (<see cref="MonitorLookup"/>). A socket that is not the caller's own is
    /// refused before connecting (<see cref="MonitorSocketOwnership"/>).
    /// </summary>
    /// <exception cref="MonitorUnavailableException">
    /// No such machine runs, several do, or the socket is not ours (the message says which, and lists the running ones).
    /// </exception>
    public static async Task<MonitorClient> ConnectAsync(string machine, CancellationToken cancellationToken)
    {
        string path = MonitorLookup.Resolve(machine);
        if (File.Exists(path) && MonitorSocketOwnership.ProblemWith(path, UnixFileStatus.CurrentUserId) is { } problem)
        {
            throw new MonitorUnavailableException($"refusing to attach to '{machine}': {problem}");
        }

        Stream stream;
        try
        {
            stream = await RpcConnection.ConnectAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or IOException or ArgumentException)
        {
            string running = await DescribeRunningAsync(cancellationToken).ConfigureAwait(false);
            throw new MonitorUnavailableException(
                MonitorLookup.IsPath(machine)
                    ? $"no machine listens on {path}: {ex.Message}. {running}"
                    : $"machine '{machine}' is no longer running (no monitor at {path}). {running}");
        }

        JsonRpc rpc = RpcConnection.Create(stream);
        MonitorClient client = new(rpc, path);
        rpc.StartListening();
        return client;
    }

    /// <summary>Every machine of ours that answers on a socket of the monitor folder (stale sockets are removed first).</summary>
    public static async Task<IReadOnlyList<(string MonitorName, MonitorMachineInfo Info)>> ListRunningAsync(CancellationToken cancellationToken)
    {
        MonitorPaths.SweepStale();
        List<(string, MonitorMachineInfo)> machines = [];
        foreach (string socket in MonitorPaths.SocketFiles())
        {
            if (MonitorSocketOwnership.ProblemWith(socket, UnixFileStatus.CurrentUserId) is not null)
            {
                continue; // not ours: never connected to, never listed
            }

            try
            {
                using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(s_listTimeout);
                Stream stream = await RpcConnection.ConnectAsync(socket, timeout.Token).ConfigureAwait(false);
                using JsonRpc rpc = RpcConnection.Create(stream);
                IMonitor monitor = rpc.Attach<IMonitor>();
                rpc.StartListening();
                machines.Add((MonitorPaths.NameOf(socket), await monitor.GetMachineAsync(timeout.Token).ConfigureAwait(false)));
            }
            catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or RemoteInvocationException or ConnectionLostException)
            {
                // Left by a killed launcher, or a machine that is ending: not running.
            }
        }

        return machines;
    }

    /// <inheritdoc/>
    public void Dispose() => _rpc.Dispose();

    private static async Task<string> DescribeRunningAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<(string MonitorName, MonitorMachineInfo Info)> running = await ListRunningAsync(cancellationToken).ConfigureAwait(false);
        return running.Count == 0
            ? $"No machine is running (monitor sockets live in {MonitorPaths.Folder})."
            : "Running: " + string.Join(", ", running.Select(m => $"{m.MonitorName} (launcher pid {m.Info.LauncherProcessId}, {m.Info.Profile})")) + ".";
    }
}

/// <summary>No machine answers where the monitor looked.</summary>
public sealed class MonitorUnavailableException(string message) : Exception(message);
