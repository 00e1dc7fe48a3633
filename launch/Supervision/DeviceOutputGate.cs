using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// What a device process may tell the launcher: output streams of its own devices only. A device process is
/// untrusted, so output it sends under another device's id (the console it does not own, another device's log)
/// is dropped, and the first such attempt reported. A device process sends its next batch only once the last is
/// acknowledged (<c>OutputForwarder</c>), so a batch that comes while one is still being taken is dropped too: a process
/// cannot make the launcher hold its batches without bound by never waiting.
/// </summary>
public sealed class DeviceOutputGate(string processKey, IEnumerable<string> deviceIds, ILaunchCallbacks inner, TextWriter log) : ILaunchCallbacks
{
    private readonly HashSet<string> _own = new(deviceIds, StringComparer.Ordinal);
    private int _refused;
    private int _inFlight;

    /// <summary>Output batches dropped because they named a device this process does not serve, or came while one was being taken.</summary>
    public int Refused => Volatile.Read(ref _refused);

    /// <inheritdoc/>
    public async Task DeviceOutput(string deviceId, long offset, byte[] data)
    {
        if (!_own.Contains(deviceId))
        {
            Refuse($"sent output as '{Printable(deviceId)}', which is not one of its devices");
            return;
        }

        if (Interlocked.Exchange(ref _inFlight, 1) == 1)
        {
            Refuse("sent output before its last batch was acknowledged");
            return;
        }

        try
        {
            await inner.DeviceOutput(deviceId, offset, data).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _inFlight, 0);
        }
    }

    private void Refuse(string what)
    {
        if (Interlocked.Increment(ref _refused) == 1)
        {
            log.WriteLine($"splitemu: device process '{processKey}' {what}; dropped");
        }
    }

    /// <summary>The id as sent, cut short and without control characters (it came from an untrusted process).</summary>
    private static string Printable(string id)
    {
        string shortened = id.Length > 64 ? id[..64] + "…" : id;
        return string.Concat(shortened.Select(c => char.IsControl(c) ? '?' : c));
    }
}
