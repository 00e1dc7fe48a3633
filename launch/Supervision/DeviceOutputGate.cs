using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// What a device process may tell the launcher: output streams of its own devices only. A device process is
/// untrusted, so output it sends under another device's id (the console it does not own, another device's log)
/// is dropped, and the first such attempt reported.
/// </summary>
public sealed class DeviceOutputGate(string processKey, IEnumerable<string> deviceIds, ILaunchCallbacks inner, TextWriter log) : ILaunchCallbacks
{
    private readonly HashSet<string> _own = new(deviceIds, StringComparer.Ordinal);
    private int _refused;

    /// <summary>Output batches dropped because they named a device this process does not serve.</summary>
    public int Refused => Volatile.Read(ref _refused);

    /// <inheritdoc/>
    public Task DeviceOutput(string deviceId, long offset, byte[] data)
    {
        if (_own.Contains(deviceId))
        {
            return inner.DeviceOutput(deviceId, offset, data);
        }

        if (Interlocked.Increment(ref _refused) == 1)
        {
            log.WriteLine($"splitemu: device process '{processKey}' sent output as '{Printable(deviceId)}', which is not one of its devices; dropped");
        }

        return Task.CompletedTask;
    }

    /// <summary>The id as sent, cut short and without control characters (it came from an untrusted process).</summary>
    private static string Printable(string id)
    {
        string shortened = id.Length > 64 ? id[..64] + "…" : id;
        return string.Concat(shortened.Select(c => char.IsControl(c) ? '?' : c));
    }
}
