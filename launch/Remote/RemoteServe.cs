using System.Diagnostics;
using Nerdbank.Streams;
using SplitEmu.DeviceHost.Hosting.Sandbox;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;
using StreamJsonRpc;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// The remote end of a remote device process (<c>splitemu remote-serve</c>, run by ssh for a <see cref="RemoteBridge"/>):
/// over its standard input and output, multiplexed, it takes the device host's control calls and the ring's requests;
/// it starts an ordinary device host on this machine on a ring of its own and drives that ring as the CPU process
/// would. It ends when the bridge goes (end of input, or no heartbeat in time), and its device host with it.
/// </summary>
internal sealed class RemoteServe : IDeviceHostControl, ILaunchCallbacks, IRemoteDma
{
    private readonly bool _sandboxed;
    private readonly JsonRpc _control;
    private readonly Stream _data;
    private readonly RemoteDataLink _link;
    private readonly RemoteClockMirror _clock = new();
    private readonly RemoteDmaForwarder _dma;
    private readonly string _runFolder;
    private readonly CancellationTokenSource _ended = new();
    private ChildProcess? _device;
    private RingSegment? _segment;
    private RingRequester? _ring;

    private RemoteServe(bool sandboxed, JsonRpc control, RemoteChannels channels)
    {
        _sandboxed = sandboxed;
        _control = control;
        _data = channels.Data;
        _link = new RemoteDataLink(channels.Data, static () => 0); // only the bridge's frames carry the machine time
        _dma = new RemoteDmaForwarder(channels.Dma);
        _runFolder = Directory.CreateTempSubdirectory($"splitemu-remote-{Environment.ProcessId}-").FullName;
    }

    /// <summary>Serves one device process over standard input and output; returns the exit code.</summary>
    public static async Task<int> RunAsync(bool sandboxed)
    {
        Stream stdio = FullDuplexStream.Splice(Console.OpenStandardInput(), Console.OpenStandardOutput());
        RemoteChannels channels = RemoteChannels.Open(stdio);
        JsonRpc control = RpcConnection.Create(channels.Control);
        RemoteServe serve = new(sandboxed, control, channels);
        control.AddLocalRpcTarget(RpcTargetMetadata.FromShape<IDeviceHostControl>(), serve, null);
        control.StartListening();
        int code = await serve.ServeAsync(channels.Multiplexer).ConfigureAwait(false);
        await serve.EndAsync().ConfigureAwait(false);
        // Closing the channels politely needs the other side; a partitioned one gets a second, then the process ends.
        await channels.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(1)).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        return code;
    }

    /// <summary>Reads the data plane until the bridge or the device host goes; returns the exit code.</summary>
    private async Task<int> ServeAsync(MultiplexingStream mux)
    {
        Task reader = Task.Factory.StartNew(ReadRequests, TaskCreationOptions.LongRunning);
        _link.StartHeartbeats(RemoteDataLink.RemoteHeartbeatMilliseconds, _ended.Token);
        Task silence = _link.WatchSilenceAsync(_ended.Token);
        await Task.WhenAny(reader, _control.Completion, mux.Completion, silence, Task.Delay(Timeout.Infinite, _ended.Token)).ConfigureAwait(false);
        string why = reader.Exception is { } failed ? failed.InnerException!.Message
            : _link.SilentFor is { } silent ? $"the bridge was silent for {silent.TotalSeconds:0.0} s"
            : _ended.IsCancellationRequested ? _endReason ?? "ended"
            : "the bridge closed the connection";
        Console.Error.WriteLine($"splitemu remote-serve: {why}");
        return _endReason is null ? 0 : 1;
    }

    private string? _endReason;

    private void End(string why)
    {
        _endReason ??= why;
        _ended.Cancel();
    }

    /// <inheritdoc/>
    public async Task<DeviceHostAttachResult> AttachAsync(DeviceHostAttachRequest request, CancellationToken cancellationToken = default)
    {
        if (_device is not null)
        {
            throw new InvalidOperationException("this remote device process is already attached");
        }

        if (request.GuestMemory is not null)
        {
            throw new NotSupportedException("a device on another host cannot map guest RAM; its DMA goes through the bridge");
        }

        // A ring of this machine's own: the device host cannot tell it from one the CPU process made.
        RingSegment segment = RingSegment.Create($"{Path.GetFileName(_runFolder)}-ring", RingGeometry.Default, 1);
        _segment = segment;
        _clock.Mirror(segment);
        _ring = new RingRequester(segment, new WaitSettings(WaitPolicy.Handoff, 0));
        string[] flags = _sandboxed ? [DeviceSandbox.Flag] : [];
        ChildProcess device = await ChildProcess.StartAsync(HostExecutables.DeviceHost, "device", _runFolder, this, Console.Error, cancellationToken, flags).ConfigureAwait(false);
        _device = device;
        device.Process.Exited += (_, _) =>
        {
            _ring.MarkPeerDead();
            End($"the device host (pid {device.ProcessId}) exited");
        };
        ulong token = device.Descriptors.Send(segment.Memory.Descriptor);
        DeviceHostAttachResult attached = await device.Rpc.Attach<IDeviceHostControl>()
            .AttachAsync(request with { SegmentDescriptor = token, ServingCore = null }, cancellationToken).ConfigureAwait(false);
        device.Descriptors.Dispose();
        segment.Memory.Unlink();
        _ = Task.Factory.StartNew(PumpEvents, TaskCreationOptions.LongRunning);
        return attached;
    }

    /// <inheritdoc/>
    public Task<DeviceHostStopResult> StopAsync(CancellationToken cancellationToken = default) =>
        _device is { } device ? device.Rpc.Attach<IDeviceHostControl>().StopAsync(cancellationToken) : Task.FromResult(new DeviceHostStopResult { Devices = [] });

    /// <inheritdoc/>
    public Task DeviceOutput(string deviceId, long offset, byte[] data) =>
        _control.InvokeAsync(nameof(ILaunchCallbacks.DeviceOutput), deviceId, offset, data); // acknowledged end to end: the launcher's back-pressure reaches the device

    /// <inheritdoc/>
    public Task<byte[]?> DmaReadAsync(ulong address, int length, CancellationToken cancellationToken = default) =>
        _dma.DmaReadAsync(address, length, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> DmaWriteAsync(ulong address, byte[] data, CancellationToken cancellationToken = default) =>
        _dma.DmaWriteAsync(address, data, cancellationToken);

    /// <summary>The bridge's frames in order: a request is put on this machine's ring, and its reply sent back.</summary>
    private void ReadRequests()
    {
        byte[] buffer = RemoteFrame.NewBuffer();
        while (RemoteFrame.TryRead(_data, buffer, out RemoteFrameType type, out long machineTime, out RingMessage message, out ReadOnlySpan<byte> state))
        {
            _link.Heard();
            _clock.Stamp(machineTime);
            if (type == RemoteFrameType.Heartbeat)
            {
                continue;
            }

            if (type != RemoteFrameType.Request || _ring is not { } ring || _segment is not { } segment)
            {
                throw new InvalidDataException($"a {type} frame from the bridge before the device was attached");
            }

            ulong tag = message.Tag;
            long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
            if (message.Kind == MessageKind.PostedWrite)
            {
                if (ring.Post(ref message, deadline) != RingCallStatus.Completed)
                {
                    throw new InvalidDataException("the device host did not take a posted write");
                }

                continue;
            }

            if (message.Kind == MessageKind.RestoreState)
            {
                if ((ulong)state.Length != message.Value)
                {
                    throw new InvalidDataException("a restore whose state length is not its own");
                }

                state.CopyTo(segment.StateArea);
            }
            else if (state.Length != 0)
            {
                throw new InvalidDataException($"state bytes with a {message.Kind} request");
            }

            RingCallStatus status = ring.Call(ref message, out RingMessage reply, deadline);
            if (status != RingCallStatus.Completed)
            {
                throw new InvalidDataException($"the device host did not answer ({status})");
            }

            reply.Tag = tag;
            reply.Flags &= unchecked((ushort)~ReplyFlags.EventsFirst); // the bridge's ring says so itself for the events it posts
            ReadOnlySpan<byte> saved = reply.Kind == MessageKind.StateSaved && reply.Value <= (ulong)segment.StateArea.Length
                ? segment.StateArea[..(int)reply.Value]
                : [];
            _link.SendReply(reply, saved, ring);
        }
    }

    /// <summary>Events the device posts outside an access (a timer's interrupt), as they come.</summary>
    private void PumpEvents()
    {
        RingRequester ring = _ring!;
        while (!_ended.IsCancellationRequested && !ring.IsPeerDead)
        {
            ring.WaitForEvent(100_000);
            _link.SendEvents(ring);
        }
    }

    private async Task EndAsync()
    {
        _ended.Cancel();
        _ring?.MarkPeerDead();
        if (_device is { } device)
        {
            device.Kill();
            await device.DisposeAsync().ConfigureAwait(false);
        }

        _segment?.Dispose();
        _control.Dispose();
        Directory.Delete(_runFolder, recursive: true);
    }
}
