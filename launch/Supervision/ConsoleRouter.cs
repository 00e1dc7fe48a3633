using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// Receives devices' output streams (<see cref="ILaunchCallbacks.DeviceOutput"/>) and writes the console
/// device's bytes to the terminal, and other devices' bytes to their log files (<c>--device-log</c>), exactly
/// once: bytes at offsets already written (a restarted device replaying its journal) are dropped.
/// </summary>
public sealed class ConsoleRouter(string? consoleDeviceId, Stream console, IReadOnlyDictionary<string, Stream>? deviceLogs = null) : ILaunchCallbacks
{
    private readonly Dictionary<string, long> _received = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Bytes at the same offset received more than once and dropped.</summary>
    public long DuplicateBytesDropped { get; private set; }

    /// <summary>Bytes missing between batches (a device lost output).</summary>
    public long GapBytes { get; private set; }

    /// <summary>True when the console's last byte did not end a line (a launcher message must not start there).</summary>
    public bool ConsoleMidLine { get; private set; }

    /// <inheritdoc/>
    public void DeviceOutput(string deviceId, long offset, byte[] data)
    {
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
            if (deviceId == consoleDeviceId)
            {
                console.Write(data, (int)skip, data.Length - (int)skip);
                console.Flush();
                ConsoleMidLine = data[^1] != (byte)'\n';
            }

            if (deviceLogs is not null && deviceLogs.TryGetValue(deviceId, out Stream? log))
            {
                log.Write(data, (int)skip, data.Length - (int)skip);
                log.Flush(); // a log is read while the machine runs (tail -f), and must survive a killed launcher
            }
        }
    }

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
        while (Received(deviceId) < bytes && DateTime.UtcNow < deadline)
        {
            await Task.Delay(1).ConfigureAwait(false);
        }
    }
}
