using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// Receives devices' output streams (<see cref="ILaunchCallbacks.DeviceOutput"/>) and writes the console
/// device's bytes to the terminal, and other devices' bytes to their log files (<c>--device-log</c>), exactly
/// once: bytes at offsets already written (a restarted device replaying its journal) are dropped. The console
/// is written through a bounded <see cref="ConsoleBuffer"/>: while its reader lags, a batch is acknowledged only
/// when it fits, which is the back-pressure that holds the guest's UART (docs/console.md). Batches of one device
/// are taken in order, one at a time, so a restarted device's bytes never overtake its predecessor's.
/// </summary>
public sealed class ConsoleRouter(string? consoleDeviceId, Stream console, IReadOnlyDictionary<string, Stream>? deviceLogs = null, int consoleCapacity = ConsoleBuffer.DefaultCapacity)
    : ILaunchCallbacks, IDisposable
{
    private readonly Dictionary<string, long> _received = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SemaphoreSlim> _inOrder = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Completed (and replaced, under the gate) each time a stream grows, for <see cref="WaitForAsync"/>.</summary>
    private TaskCompletionSource _grown = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConsoleBuffer _console = new(console, consoleCapacity);

    /// <summary>Bytes at the same offset received more than once and dropped.</summary>
    public long DuplicateBytesDropped { get; private set; }

    /// <summary>Bytes missing between batches (a device lost output).</summary>
    public long GapBytes { get; private set; }

    /// <summary>True when the console's last byte did not end a line (a launcher message must not start there).</summary>
    public bool ConsoleMidLine { get; private set; }

    /// <summary>Console bytes queued and not yet taken by the console's reader.</summary>
    public int ConsoleBacklog => _console.QueuedBytes;

    /// <inheritdoc/>
    public async Task DeviceOutput(string deviceId, long offset, byte[] data)
    {
        SemaphoreSlim inOrder;
        lock (_gate)
        {
            if (!_inOrder.TryGetValue(deviceId, out inOrder!))
            {
                inOrder = new SemaphoreSlim(1, 1);
                _inOrder.Add(deviceId, inOrder);
            }
        }

        await inOrder.WaitAsync().ConfigureAwait(false);
        try
        {
            byte[]? forConsole = null;
            lock (_gate)
            {
                long received = _received.GetValueOrDefault(deviceId);
                long skip = Math.Clamp(received - offset, 0, data.Length);
                DuplicateBytesDropped += skip;
                if (offset > received)
                {
                    GapBytes += offset - received;
                }

                if (skip == data.Length)
                {
                    return;
                }

                _received[deviceId] = offset + data.Length;
                _grown.TrySetResult();
                _grown = new(TaskCreationOptions.RunContinuationsAsynchronously);
                if (deviceId == consoleDeviceId)
                {
                    forConsole = skip == 0 ? data : data[(int)skip..];
                    ConsoleMidLine = data[^1] != (byte)'\n';
                }

                if (deviceLogs is not null && deviceLogs.TryGetValue(deviceId, out Stream? log))
                {
                    log.Write(data, (int)skip, data.Length - (int)skip);
                    log.Flush(); // a log is read while the machine runs (tail -f), and must survive a killed launcher
                }
            }

            if (forConsole is not null)
            {
                await _console.WriteAsync(forConsole).ConfigureAwait(false);
            }
        }
        finally
        {
            inOrder.Release();
        }
    }

    /// <summary>The machine is stopping: its last output goes to the console buffer without waiting.</summary>
    public void StopHoldingBack() => _console.StopHoldingBack();

    /// <summary>Gives the console's reader up to <paramref name="timeout"/> to take what is queued; false if it did not.</summary>
    public bool DrainConsole(TimeSpan timeout) => _console.Drain(timeout);

    public void Dispose() => _console.Dispose();

    /// <summary>Bytes of <paramref name="deviceId"/>'s stream received so far.</summary>
    public long Received(string deviceId)
    {
        lock (_gate)
        {
            return _received.GetValueOrDefault(deviceId);
        }
    }

    /// <summary>Waits (bounded) until <paramref name="deviceId"/>'s stream has reached <paramref name="bytes"/>.</summary>
    public async Task WaitForAsync(string deviceId, long bytes, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Task grown;
            lock (_gate)
            {
                if (_received.GetValueOrDefault(deviceId) >= bytes)
                {
                    return;
                }

                grown = _grown.Task; // taken with the check: a growth after it completes this task
            }

            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            try
            {
                await grown.WaitAsync(left).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return;
            }
        }
    }
}
