using StreamJsonRpc;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Common;

/// <summary>
/// Carries devices' output streams to the launcher as acknowledged <see cref="ILaunchCallbacks.DeviceOutput"/>
/// calls, batched off the access path: a device's handler only appends to a buffer. Each batch carries its
/// stream offset, so the launcher can drop bytes it already has. Bytes stay here until the launcher has
/// acknowledged them, so a snapshot can carry them (<see cref="Unacknowledged"/>) instead of waiting for a
/// console nobody reads. The launcher acknowledges only what its bounded console buffer took, so a stalled
/// reader backs a stream up here: past <see cref="BacklogLimit"/> devices that can wait (a UART's transmitter)
/// are told to (<see cref="IsBackedUp"/>), and past <see cref="HardLimit"/> further bytes are dropped and counted.
/// </summary>
public sealed class OutputForwarder : IDeviceOutputSink, IAsyncDisposable
{
    /// <summary>Unacknowledged bytes from which a stream counts as backed up.</summary>
    public const int BacklogLimit = 4 * 1024;

    /// <summary>Unacknowledged bytes a stream keeps at most; they must fit a snapshot's state area beside the device's state.</summary>
    public const int HardLimit = 32 * 1024;

    /// <summary>Largest batch in one notification.</summary>
    private const int MaxBatchBytes = 16 * 1024;

    private readonly JsonRpc _rpc;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Stream> _streams = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;

    /// <summary>Serializes the pump's sends with <see cref="FlushAsync"/>.</summary>
    private readonly SemaphoreSlim _sendGate = new(1, 1);

    /// <summary>Starts forwarding over <paramref name="rpc"/>.</summary>
    public OutputForwarder(JsonRpc rpc)
    {
        _rpc = rpc;
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Appends <paramref name="data"/> to <paramref name="deviceId"/>'s stream. Thread-safe, never blocks on I/O.</summary>
    public void Write(string deviceId, ReadOnlySpan<byte> data)
    {
        bool firstDrop = false;
        lock (_gate)
        {
            Stream stream = StreamOf(deviceId);
            int room = Math.Max(0, HardLimit - stream.Unacknowledged.Count);
            if (data.Length > room)
            {
                firstDrop = stream.Dropped == 0;
                stream.Dropped += data.Length - room;
                data = data[..room];
            }

            stream.Unacknowledged.AddRange(data);
        }

        if (firstDrop)
        {
            Console.Error.WriteLine($"device {deviceId}: its output's reader fell {HardLimit / 1024} KiB behind and the device does not wait for it; dropping output");
        }

        _signal.Release();
    }

    /// <summary>Bytes written to <paramref name="deviceId"/>'s stream so far (acknowledged or not, dropped ones aside).</summary>
    public long TotalBytes(string deviceId)
    {
        lock (_gate)
        {
            return _streams.TryGetValue(deviceId, out Stream? stream) ? stream.AcknowledgedOffset + stream.Unacknowledged.Count : 0;
        }
    }

    /// <inheritdoc/>
    public bool IsBackedUp(string deviceId)
    {
        lock (_gate)
        {
            return _streams.TryGetValue(deviceId, out Stream? stream) && stream.Unacknowledged.Count >= BacklogLimit;
        }
    }

    /// <summary>Where the launcher's copy of <paramref name="deviceId"/>'s stream ends, and the bytes written since.</summary>
    public (long Offset, byte[] Bytes) Unacknowledged(string deviceId)
    {
        lock (_gate)
        {
            return _streams.TryGetValue(deviceId, out Stream? stream) ? (stream.AcknowledgedOffset, stream.Unacknowledged.ToArray()) : (0, []);
        }
    }

    /// <summary>
    /// Continues <paramref name="deviceId"/>'s stream from a snapshot: the launcher had it up to
    /// <paramref name="offset"/>, and <paramref name="unacknowledged"/> follow (sent again; the launcher drops what it has).
    /// </summary>
    public void Restore(string deviceId, long offset, ReadOnlySpan<byte> unacknowledged)
    {
        lock (_gate)
        {
            Stream stream = StreamOf(deviceId);
            stream.Epoch++;
            stream.AcknowledgedOffset = offset;
            stream.InFlight = 0;
            stream.Unacknowledged.Clear();
            stream.Unacknowledged.AddRange(unacknowledged);
        }

        _signal.Release();
    }

    /// <summary>Sends everything written so far; returns when the launcher has acknowledged it.</summary>
    public async Task FlushAsync()
    {
        await _sendGate.WaitAsync().ConfigureAwait(false);
        try
        {
            await SendPendingAsync().ConfigureAwait(false);
        }
        finally
        {
            _sendGate.Release();
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _pump.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private Stream StreamOf(string deviceId)
    {
        if (!_streams.TryGetValue(deviceId, out Stream? stream))
        {
            stream = new Stream();
            _streams.Add(deviceId, stream);
        }

        return stream;
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            await _signal.WaitAsync(_stop.Token).ConfigureAwait(false);
            await FlushAsync().ConfigureAwait(false);
        }
    }

    private async Task SendPendingAsync()
    {
        while (true)
        {
            string deviceId;
            long offset;
            byte[] batch;
            Stream stream;
            int epoch;
            lock (_gate)
            {
                KeyValuePair<string, Stream> next = default;
                foreach (KeyValuePair<string, Stream> entry in _streams)
                {
                    if (entry.Value.Unacknowledged.Count > entry.Value.InFlight)
                    {
                        next = entry;
                        break;
                    }
                }

                if (next.Value is null)
                {
                    return;
                }

                stream = next.Value;
                int count = Math.Min(stream.Unacknowledged.Count - stream.InFlight, MaxBatchBytes);
                batch = stream.Unacknowledged.GetRange(stream.InFlight, count).ToArray();
                deviceId = next.Key;
                offset = stream.AcknowledgedOffset + stream.InFlight;
                stream.InFlight += count;
                epoch = stream.Epoch;
            }

            try
            {
                // A request, not a notification: when it returns, the launcher has the bytes (in its bounded
                // console buffer at least), so they leave this process's keeping.
                await _rpc.InvokeAsync(nameof(ILaunchCallbacks.DeviceOutput), deviceId, offset, batch).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ConnectionLostException or ObjectDisposedException or IOException or RemoteInvocationException)
            {
                return; // The launcher is gone; this process is about to exit.
            }

            lock (_gate)
            {
                if (stream.Epoch == epoch)
                {
                    stream.Unacknowledged.RemoveRange(0, batch.Length);
                    stream.AcknowledgedOffset += batch.Length;
                    stream.InFlight -= batch.Length;
                }
            }
        }
    }

    private sealed class Stream
    {
        /// <summary>Offset of the first byte the launcher has not acknowledged.</summary>
        public long AcknowledgedOffset;

        /// <summary>Bytes from <see cref="AcknowledgedOffset"/> on: the first <see cref="InFlight"/> are sent, the rest pending.</summary>
        public readonly List<byte> Unacknowledged = [];

        /// <summary>Bytes of <see cref="Unacknowledged"/> sent and awaiting acknowledgement.</summary>
        public int InFlight;

        /// <summary>Bumped by <see cref="Restore"/>, so an acknowledgement from before it is not applied after.</summary>
        public int Epoch;

        /// <summary>Bytes dropped at <see cref="HardLimit"/>.</summary>
        public long Dropped;
    }
}
