using SplitEmu.DeviceHost.Devices.Bench;
using SplitEmu.Launch.Commands;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;
using StreamJsonRpc;

namespace SplitEmu.Launch.Bench;

/// <summary>How the benchmark's device process is reached.</summary>
public enum BenchTransportKind
{
    /// <summary>The shared-memory ring.</summary>
    Ring,

    /// <summary>The socket transport (one frame per access).</summary>
    Socket,

    /// <summary>The ring, served by a remote bridge whose device host runs on another host over ssh (docs/remote-devices.md).</summary>
    Remote,
}

/// <summary>
/// A real SplitEmu.DeviceHost child serving one <see cref="BenchRegister"/>, with this process as its CPU side
/// (the benchmark drives <see cref="RingRequester"/> or <see cref="SocketRequester"/> directly). Disposing stops
/// the child and removes its files, whatever happened.
/// </summary>
public sealed class BenchDeviceProcess : IAsyncDisposable
{
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(20);
    private static int s_sequence;

    private readonly string _folder;
    private ChildProcess? _child;
    private RingSegment? _segment;
    private SocketTransportListener? _listener;
    private System.Net.Sockets.Socket? _rpcListener;
    private JsonRpc? _rpc;

    private BenchDeviceProcess(string folder) => _folder = folder;

    /// <summary>The CPU side of the data plane.</summary>
    public IRequestTransport Transport { get; private set; } = null!;

    /// <summary>The device's registers as JSON-RPC calls, when asked for.</summary>
    public IBenchRegisterRpc? Rpc { get; private set; }

    /// <summary>The child's process id.</summary>
    public int ProcessId => _child?.ProcessId ?? 0;

    /// <summary>The child's last output lines (for failure reports).</summary>
    public IReadOnlyList<string> LastLines => _child?.LastLines ?? [];

    /// <summary>
    /// Starts a device process and attaches it over <paramref name="kind"/> with <paramref name="wait"/>; pins its
    /// serving thread to <paramref name="servingCore"/> if given; with <paramref name="withRpc"/> the device also
    /// serves JSON-RPC. <paramref name="fault"/> is test-only fault injection.
    /// </summary>
    public static async Task<BenchDeviceProcess> StartAsync(
        BenchTransportKind kind, WaitSettings wait, int? servingCore, bool withRpc, TextWriter log, CancellationToken cancellationToken,
        TransportFault fault = TransportFault.None, HostConfig? remote = null)
    {
        string folder = Directory.CreateTempSubdirectory($"splitemu-{Environment.ProcessId}-bench-").FullName;
        BenchDeviceProcess device = new(folder);
        try
        {
            await device.StartCoreAsync(kind, wait, servingCore, withRpc, fault, remote, log, cancellationToken).ConfigureAwait(false);
            return device;
        }
        catch
        {
            await device.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        Transport?.MarkPeerDead();
        _rpc?.Dispose();
        if (_child is not null)
        {
            await _child.DisposeAsync().ConfigureAwait(false);
        }

        (Transport as IDisposable)?.Dispose();
        _segment?.Memory.Unlink();
        _segment?.Dispose();
        _listener?.Dispose();
        _rpcListener?.Dispose();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort; the launcher's sweep removes leftovers of dead processes.
        }
    }

    private async Task StartCoreAsync(
        BenchTransportKind kind, WaitSettings wait, int? servingCore, bool withRpc, TransportFault fault, HostConfig? remote, TextWriter log, CancellationToken cancellationToken)
    {
        int n = Interlocked.Increment(ref s_sequence);
        Dictionary<string, string> config = [];
        string rpcPath = Path.Combine(_folder, "rpc.sock");
        if (withRpc)
        {
            _rpcListener = RpcConnection.Listen(rpcPath);
            config[BenchRegister.RpcSocketKey] = rpcPath;
        }

        DeviceConfig device = new() { Id = "bench", Type = BenchRegister.TypeName, Mmio = 0xFEB0_0000, Config = config };
        string socketPath = Path.Combine(_folder, "data.sock");
        bool ring = kind is BenchTransportKind.Ring or BenchTransportKind.Remote;
        if (ring)
        {
            _segment = RingSegment.Create($"splitemu-bench-{n}", RingGeometry.Default, epoch: 1);
        }
        else
        {
            _listener = SocketTransportListener.Create(socketPath);
        }

        _child = kind == BenchTransportKind.Remote
            ? await ChildProcess.StartAsync(HostExecutables.RemoteBridge, $"bench{n}", _folder, new NoCallbacks(), log, cancellationToken, RemoteCommands.BridgeArguments(remote!, sandboxed: false)).ConfigureAwait(false)
            : await ChildProcess.StartAsync(HostExecutables.DeviceHost, $"bench{n}", _folder, new NoCallbacks(), log, cancellationToken).ConfigureAwait(false);
        IDeviceHostControl control = _child.Rpc.Attach<IDeviceHostControl>();
        Task<DeviceHostAttachResult> attach = control.AttachAsync(
            new DeviceHostAttachRequest
            {
                SegmentDescriptor = ring ? _child.Descriptors.Send(_segment!.Memory.Descriptor) : 0,
                SocketPath = kind == BenchTransportKind.Socket ? socketPath : null,
                Devices = [device],
                WaitPolicy = wait.Policy,
                SpinBudget = Math.Max(1, wait.SpinBudget),
                ServingCore = servingCore,
                InjectFault = fault,
            },
            cancellationToken);
        if (withRpc)
        {
            // The device connects while it is created, inside AttachAsync.
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_connectTimeout);
            System.Net.Sockets.Socket socket = await _rpcListener!.AcceptAsync(timeout.Token).ConfigureAwait(false);
            _rpc = RpcConnection.Create(new System.Net.Sockets.NetworkStream(socket, ownsSocket: true));
            Rpc = _rpc.Attach<IBenchRegisterRpc>();
            _rpc.StartListening();
        }

        await attach.ConfigureAwait(false);
        if (ring)
        {
            _segment!.Memory.Unlink(); // both sides have it mapped: no other process can open it now
            Transport = new RingRequester(_segment, wait);
        }
        else
        {
            Transport = _listener!.Accept(s_connectTimeout);
        }
    }

    /// <summary>A launcher side that drops device output (benchmarks measure, they do not show).</summary>
    internal sealed class NoCallbacks : ILaunchCallbacks
    {
        public Task DeviceOutput(string deviceId, long offset, byte[] data) => Task.CompletedTask;
    }
}
