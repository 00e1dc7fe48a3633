using System.Diagnostics;
using Nerdbank.Streams;
using SplitEmu.DeviceHost.Common;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Processes;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;
using StreamJsonRpc;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// A device process whose devices run on another host (<c>splitemu remote-bridge</c>). To the launcher and the CPU
/// process it is an ordinary device process: it is started, attached to a ring and killed like one, and its death is
/// a device crash. Behind that, it runs <c>splitemu remote-serve</c> on the host over one ssh connection multiplexed
/// into a control channel and a data channel, and passes the ring's requests, replies and events along
/// (docs/remote-devices.md). It ends, and so looks crashed, when ssh ends, the remote end is silent for
/// <see cref="RemoteDataLink.SilenceLimit"/>, or breaks the protocol (a malformed frame, output sent before the last
/// was acknowledged). A third channel carries the remote bus masters' DMA (<see cref="RemoteDmaServer"/>).
/// </summary>
internal sealed class RemoteBridge : IDeviceHostControl, ILaunchCallbacks
{
    /// <summary>Exit code when the host was lost: ssh could not connect or lost the connection, or the host fell silent.</summary>
    public const int RemoteLost = 3;

    /// <summary>Exit code when the remote device process ended (crashed, or broke the protocol) while its host stayed reachable.</summary>
    public const int RemoteEnded = 4;

    private static readonly TimeSpan s_descriptorTimeout = TimeSpan.FromSeconds(5);

    private readonly JsonRpc _launcher;
    private readonly DescriptorChannel _descriptors;
    private readonly Process _ssh;
    private readonly JsonRpc _remote;
    private readonly RemoteDataLink _link;
    private readonly RemoteDmaServer _dma;
    private readonly RemoteChannels _channels;
    private readonly CancellationTokenSource _ended = new();
    private readonly SemaphoreSlim _replyReady = new(0, 1);
    private RingMessage _reply;
    private int _awaitingReply;
    private RingSegment? _segment;
    private RingResponder? _ring;
    private MachineClock? _clock;
    private GuestMemoryWindow? _guestMemory;
    private int _stop;
    private int _outputInFlight;

    private RemoteBridge(JsonRpc launcher, DescriptorChannel descriptors, Process ssh, JsonRpc remote, RemoteChannels channels)
    {
        _launcher = launcher;
        _descriptors = descriptors;
        _ssh = ssh;
        _remote = remote;
        _channels = channels;
        _link = new RemoteDataLink(channels.Data, MachineTime);
        _dma = new RemoteDmaServer(channels.Dma, () => Volatile.Read(ref _guestMemory));
    }

    /// <summary>Bridges to <paramref name="host"/> for the launcher at <paramref name="controlSocket"/>; returns the exit code.</summary>
    public static async Task<int> RunAsync(string controlSocket, HostConfig host, bool sandboxed)
    {
        if (!LauncherTie.DieWithLauncher())
        {
            return 1;
        }

        ProcessDumpability.Forbid(); // it maps the machine's ring
        if (!SshUrl.TryParse(host.Url, out SshUrl url, out string problem))
        {
            Console.Error.WriteLine($"splitemu remote-bridge: {problem}");
            return ExitCodes.BadInput;
        }

        // ssh first: its connection is made while the CPU process is configured.
        string[] serve = sandboxed ? ["remote-serve", "--sandbox"] : ["remote-serve"];
        ProcessStartInfo start = SshCommand.StartInfo(host, url, serve, TimeSpan.FromSeconds(10));
        start.RedirectStandardError = false; // ssh's and the remote end's errors are this process's, which the launcher logs
        using Process ssh = Process.Start(start) ?? throw new InvalidOperationException("ssh did not start");
        try
        {
            Stream stdio = FullDuplexStream.Splice(ssh.StandardOutput.BaseStream, ssh.StandardInput.BaseStream);
            await using RemoteChannels channels = RemoteChannels.Open(stdio);
            // The host is not trusted: a control message larger than any it sends legitimately ends the connection, as for a local child.
            JsonRpc remote = RpcConnection.Create(new BoundedMessageStream(channels.Control, ChildProcess.MaxMessageBytes, $"remote host {url}"));

            Stream launcherStream = await RpcConnection.ConnectAsync(controlSocket, CancellationToken.None).ConfigureAwait(false);
            using DescriptorChannel descriptors = DescriptorChannel.Connect(controlSocket);
            JsonRpc launcher = RpcConnection.Create(launcherStream);
            RemoteBridge bridge = new(launcher, descriptors, ssh, remote, channels);
            remote.AddLocalRpcTarget(RpcTargetMetadata.FromShape<ILaunchCallbacks>(), bridge, null);
            launcher.AddLocalRpcTarget(RpcTargetMetadata.FromShape<IDeviceHostControl>(), bridge, null);
            remote.StartListening();
            launcher.StartListening();
            return await bridge.RunAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException or MultiplexingProtocolException)
        {
            Console.Error.WriteLine($"splitemu remote-bridge: the connection to {url} failed: {ex.Message}");
            return RemoteLost;
        }
        finally
        {
            ChildProcess.KillQuietly(ssh);
        }
    }

    private async Task<int> RunAsync()
    {
        Task reader = Task.Factory.StartNew(ReadFrames, TaskCreationOptions.LongRunning);
        Task dma = Task.Factory.StartNew(_dma.Serve, TaskCreationOptions.LongRunning);
        _link.StartHeartbeats(RemoteDataLink.BridgeHeartbeatMilliseconds, _ended.Token);
        Task silence = _link.WatchSilenceAsync(_ended.Token);
        Task sshExited = _ssh.WaitForExitAsync();
        Task gone = await Task.WhenAny(_launcher.Completion, reader, dma, silence, sshExited, _channels.Multiplexer.Completion, _remote.Completion).ConfigureAwait(false);
        _ended.Cancel();
        Volatile.Write(ref _stop, 1);
        _ring?.KickRequestWaiter();
        if (gone == _launcher.Completion)
        {
            ChildProcess.KillQuietly(_ssh);
            return 0; // the machine ended
        }

        // ssh ends within moments of the connection: give it that long to say whether the host or the process went.
        await Task.WhenAny(sshExited, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
        bool hostLost = _link.SilentFor is not null || (_ssh.HasExited && _ssh.ExitCode == SshCommand.SshFailed);
        ChildProcess.KillQuietly(_ssh);
        string why = _link.SilentFor is { } silent ? $"the host was silent for {silent.TotalSeconds:0.0} s"
            : _channels.Breached is { } breach ? breach
            : (reader.Exception ?? dma.Exception) is { } failed ? failed.InnerException!.Message
            : _ssh.HasExited && _ssh.ExitCode == SshCommand.SshFailed ? "ssh lost the connection"
            : "the remote end closed the connection";
        Console.Error.WriteLine($"splitemu remote-bridge: the remote device process is gone: {why}");
        return hostLost ? RemoteLost : RemoteEnded;
    }

    private long MachineTime() => _clock?.NowNanoseconds ?? 0;

    /// <inheritdoc/>
    public async Task<DeviceHostAttachResult> AttachAsync(DeviceHostAttachRequest request, CancellationToken cancellationToken = default)
    {
        if (_segment is not null)
        {
            throw new InvalidOperationException("this device process is already attached; a device process serves one segment");
        }

        // The bus masters' DMA comes back as calls (IRemoteDma): this process maps guest RAM for them and checks the windows.
        if (request.GuestMemory is { } share)
        {
            _guestMemory = new GuestMemoryWindow(_descriptors.Receive(share.Descriptor, s_descriptorTimeout), share.Size, share.Windows);
        }

        RingSegment segment = RingSegment.Open(_descriptors.Receive(request.SegmentDescriptor, s_descriptorTimeout), s_descriptorTimeout);
        _segment = segment;
        _clock = MachineClock.Of(segment);
        _link.SilenceLimit = SilenceLimitFor(request.Devices);
        _link.Send(RemoteFrameType.Heartbeat, default); // the remote clock starts from the machine's
        // The ring is ready before the remote attaches: its device may post events (a timer) before the attach's reply arrives.
        Volatile.Write(ref _ring, new RingResponder(segment, WaitSettings.Handoff));
        DeviceHostAttachResult attached = await _remote.Attach<IDeviceHostControl>()
            .AttachAsync(request with { SegmentDescriptor = 0, ServingCore = null, GuestMemory = null, DmaOverControl = _guestMemory is not null }, cancellationToken).ConfigureAwait(false);
        Thread requests = new(ForwardRequests) { IsBackground = true, Name = "remote requests" };
        requests.Start();
        return attached with { ProcessId = Environment.ProcessId };
    }

    /// <inheritdoc/>
    public Task<DeviceHostStopResult> StopAsync(CancellationToken cancellationToken = default) =>
        _remote.Attach<IDeviceHostControl>().StopAsync(cancellationToken);

    /// <summary>
    /// Device output, passed on to the launcher and acknowledged from there. A device host sends its next batch only
    /// once the last is acknowledged (<c>OutputForwarder</c>), so a second batch while one is on its way is a host
    /// trying to make this process hold output without bound: the connection ends.
    /// </summary>
    public async Task DeviceOutput(string deviceId, long offset, byte[] data)
    {
        if (Interlocked.Exchange(ref _outputInFlight, 1) == 1)
        {
            _channels.Breach("the remote device process sent output before its last batch was acknowledged");
            return;
        }

        try
        {
            await _launcher.InvokeAsync(nameof(ILaunchCallbacks.DeviceOutput), deviceId, offset, data).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _outputInFlight, 0);
        }
    }

    /// <summary>
    /// How long the host may be silent: well inside the devices' access timeout, so that during a partition this
    /// process ends as "host lost" (and the device fails over) before the CPU process kills it for a hung access.
    /// </summary>
    private static TimeSpan SilenceLimitFor(IReadOnlyList<DeviceConfig> devices)
    {
        TimeSpan half = TimeSpan.FromMilliseconds(devices.Min(d => d.AccessTimeoutMs) / 2.0);
        return TimeSpan.FromTicks(Math.Clamp(half.Ticks, RemoteDataLink.ShortestSilenceLimit.Ticks, RemoteDataLink.SilenceTimeout.Ticks));
    }

    /// <summary>The ring's requests, in order, to the remote end; a non-posted one waits for its reply.</summary>
    private void ForwardRequests()
    {
        try
        {
            ForwardRequestsUntilStopped();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The connection ended (RunAsync says why and exits with the right code); an access waiting here dies with it.
        }
    }

    private void ForwardRequestsUntilStopped()
    {
        RingResponder ring = _ring!;
        RingSegment segment = _segment!;
        while (ring.WaitForRequest(out RingMessage request, ref _stop))
        {
            if (request.Kind == MessageKind.PostedWrite)
            {
                // Posted writes are batched: flushed with the last of a run, or with the request that follows them.
                _link.Send(RemoteFrameType.Request, request, flush: !ring.HasRequest);
                continue;
            }

            if (request.Kind == MessageKind.RestoreState && request.Value > (ulong)segment.StateArea.Length)
            {
                ring.Reply(new RingMessage { Kind = MessageKind.Failed, Tag = request.Tag, Device = request.Device }); // as a device host refuses it
                continue;
            }

            ReadOnlySpan<byte> state = request.Kind == MessageKind.RestoreState ? segment.StateArea[..(int)request.Value] : [];
            Volatile.Write(ref _awaitingReply, 1);
            _link.Send(RemoteFrameType.Request, request, state);
            _replyReady.Wait(_ended.Token);
            RingMessage reply = _reply;
            reply.Tag = request.Tag;
            ring.Reply(reply);
        }
    }

    /// <summary>The remote end's frames: events onto the ring, the reply to the waiting request.</summary>
    private void ReadFrames()
    {
        byte[] buffer = RemoteFrame.NewBuffer();
        while (RemoteFrame.TryRead(_channels.Data, buffer, out RemoteFrameType type, out _, out RingMessage message, out ReadOnlySpan<byte> state))
        {
            _link.Heard();
            switch (type)
            {
                case RemoteFrameType.Heartbeat:
                    break;
                case RemoteFrameType.Event when Volatile.Read(ref _ring) is { } ring:
                    ring.PostEvent(message);
                    break;
                case RemoteFrameType.Reply when Interlocked.Exchange(ref _awaitingReply, 0) == 1:
                    if (message.Kind == MessageKind.StateSaved ? (ulong)state.Length != message.Value : state.Length != 0)
                    {
                        throw new InvalidDataException("a reply whose state bytes do not match it");
                    }

                    state.CopyTo(_segment!.StateArea);
                    _reply = message;
                    _replyReady.Release();
                    break;
                default:
                    throw new InvalidDataException($"an unexpected {type} frame from the remote host");
            }
        }
    }
}
