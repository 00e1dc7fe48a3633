using StreamJsonRpc;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Carries devices' output streams to the launcher as acknowledged <see cref="ILaunchCallbacks.DeviceOutput"/>
/// calls, batched off the access path: a device's handler only appends to a buffer. Each batch
/// carries its stream offset, so the launcher can drop bytes it already has.
/// </summary>
public sealed class OutputForwarder : IDeviceOutputSink, IAsyncDisposable
{
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
        lock (_gate)
        {
            if (!_streams.TryGetValue(deviceId, out Stream? stream))
            {
                stream = new Stream();
                _streams.Add(deviceId, stream);
            }

            stream.Pending.AddRange(data);
        }

        _signal.Release();
    }

    /// <summary>Sets where <paramref name="deviceId"/>'s stream continues (after a restore).</summary>
    public void SetOffset(string deviceId, long offset)
    {
        lock (_gate)
        {
            if (!_streams.TryGetValue(deviceId, out Stream? stream))
            {
                stream = new Stream();
                _streams.Add(deviceId, stream);
            }

            stream.SentOffset = offset - stream.Pending.Count;
        }
    }

    /// <summary>Bytes written to <paramref name="deviceId"/>'s stream so far (sent or not).</summary>
    public long TotalBytes(string deviceId)
    {
        lock (_gate)
        {
            return _streams.TryGetValue(deviceId, out Stream? stream) ? stream.SentOffset + stream.Pending.Count : 0;
        }
    }

    /// <summary>Sends everything written so far; returns when the notifications are on the wire.</summary>
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
            lock (_gate)
            {
                KeyValuePair<string, Stream> next = default;
                foreach (KeyValuePair<string, Stream> entry in _streams)
                {
                    if (entry.Value.Pending.Count > 0)
                    {
                        next = entry;
                        break;
                    }
                }

                if (next.Value is null)
                {
                    return;
                }

                Stream stream = next.Value;
                int count = Math.Min(stream.Pending.Count, MaxBatchBytes);
                batch = stream.Pending.GetRange(0, count).ToArray();
                stream.Pending.RemoveRange(0, count);
                deviceId = next.Key;
                offset = stream.SentOffset;
                stream.SentOffset += count;
            }

            try
            {
                // A request, not a notification: when it returns, the launcher has the bytes. A snapshot taken
                // after a flush therefore never records an offset the launcher has not reached.
                await _rpc.InvokeAsync(nameof(ILaunchCallbacks.DeviceOutput), deviceId, offset, batch).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ConnectionLostException or ObjectDisposedException or IOException or RemoteInvocationException)
            {
                return; // The launcher is gone; this process is about to exit.
            }
        }
    }

    private sealed class Stream
    {
        /// <summary>Offset of the first pending byte in the device's stream.</summary>
        public long SentOffset;

        /// <summary>Bytes written but not yet sent.</summary>
        public readonly List<byte> Pending = [];
    }
}
