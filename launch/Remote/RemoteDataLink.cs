using System.Diagnostics;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Launch.Remote;

/// <summary>
/// One side of a remote device process's data channel: frames sent under one gate (so an event the device posted
/// during an access is always sent before that access's reply), heartbeats, and how long the other side has been
/// silent. A side silent for <see cref="SilenceLimit"/> is taken for gone (a partition, a dead host): the bridge
/// then ends, which the CPU process sees as its device process dying. Every frame carries <paramref name="machineTime"/>'s
/// value, read under the send gate, so the stamps go out in the order they were taken (the remote end sends 0).
/// </summary>
internal sealed class RemoteDataLink(Stream stream, Func<long> machineTime)
{
    /// <summary>How often the bridge sends the machine time (the remote clock's stamps).</summary>
    public const int BridgeHeartbeatMilliseconds = 10;

    /// <summary>How often the remote end says it is alive.</summary>
    public const int RemoteHeartbeatMilliseconds = 100;

    /// <summary>Silence after which the other side is given up, unless <see cref="SilenceLimit"/> says less.</summary>
    public static readonly TimeSpan SilenceTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Least silence limit: three of the remote end's heartbeats.</summary>
    public static readonly TimeSpan ShortestSilenceLimit = TimeSpan.FromMilliseconds(3 * RemoteHeartbeatMilliseconds);

    private readonly Lock _sendGate = new();

    /// <summary>Where frames are built, under <see cref="_sendGate"/>: an access costs no allocation.</summary>
    private readonly byte[] _frame = RemoteFrame.NewBuffer();

    private long _lastHeard = Stopwatch.GetTimestamp();

    /// <summary>Silence after which <see cref="WatchSilenceAsync"/> gives the other side up.</summary>
    public TimeSpan SilenceLimit { get; set; } = SilenceTimeout;

    /// <summary>How long the other side had been silent when it was given up; null while it is not.</summary>
    public TimeSpan? SilentFor { get; private set; }

    /// <summary>A frame came in.</summary>
    public void Heard() => Volatile.Write(ref _lastHeard, Stopwatch.GetTimestamp());

    /// <summary>Sends one frame; unless <paramref name="flush"/>, it may wait for the next frame that is flushed (a heartbeat flushes within 10 ms).</summary>
    public void Send(RemoteFrameType type, in RingMessage message, ReadOnlySpan<byte> state = default, bool flush = true)
    {
        lock (_sendGate)
        {
            RemoteFrame.Write(stream, _frame, type, machineTime(), message, state, flush);
        }
    }

    /// <summary>Sends the events <paramref name="ring"/> holds, then <paramref name="reply"/>.</summary>
    public void SendReply(in RingMessage reply, ReadOnlySpan<byte> state, RingRequester ring)
    {
        lock (_sendGate)
        {
            SendEventsLocked(ring);
            RemoteFrame.Write(stream, _frame, RemoteFrameType.Reply, machineTime(), reply, state);
        }
    }

    /// <summary>Sends the events <paramref name="ring"/> holds.</summary>
    public void SendEvents(RingRequester ring)
    {
        lock (_sendGate)
        {
            SendEventsLocked(ring);
        }
    }

    private void SendEventsLocked(RingRequester ring)
    {
        while (ring.TryTakeEvent(out RingMessage message))
        {
            RemoteFrame.Write(stream, _frame, RemoteFrameType.Event, machineTime(), message);
        }
    }

    /// <summary>
    /// Sends a heartbeat every <paramref name="intervalMilliseconds"/> on a thread of its own, until <paramref name="cancellationToken"/> is cancelled. A send may block for as long as the
    /// connection does not drain (a partition): that is why silence is watched apart (<see cref="WatchSilenceAsync"/>).
    /// </summary>
    public void StartHeartbeats(int intervalMilliseconds, CancellationToken cancellationToken)
    {
        Thread heartbeats = new(() =>
        {
            try
            {
                while (!cancellationToken.WaitHandle.WaitOne(intervalMilliseconds))
                {
                    Send(RemoteFrameType.Heartbeat, default);
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException)
            {
                // The connection is gone; the readers see that.
            }
        })
        {
            IsBackground = true,
            Name = "remote heartbeats",
        };
        heartbeats.Start();
    }

    /// <summary>Completes once the other side has been silent for <see cref="SilenceLimit"/> (never sends, so never blocks).</summary>
    public async Task WatchSilenceAsync(CancellationToken cancellationToken)
    {
        using PeriodicTimer timer = new(TimeSpan.FromMilliseconds(RemoteHeartbeatMilliseconds));
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            TimeSpan silent = Stopwatch.GetElapsedTime(Volatile.Read(ref _lastHeard));
            if (silent > SilenceLimit)
            {
                SilentFor = silent;
                return;
            }
        }
    }
}
