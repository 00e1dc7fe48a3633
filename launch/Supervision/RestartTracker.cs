using SplitEmu.Shared.Profiles;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// Applies a device's restart policy: restart after a back-off that doubles with each further crash inside
/// the window, until the window holds <see cref="RestartConfig.MaxRestarts"/> restarts; then give up. A crash
/// someone asked for (crash injection, the monitor, crash-test) is not the device failing: it counts towards
/// the limit but restarts after the plain back-off, so a crash campaign does not slow itself down.
/// </summary>
public sealed class RestartTracker(RestartConfig config)
{
    /// <summary>Longest back-off, however many crashes came before.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly Queue<TimeSpan> _restarts = new();

    /// <summary>Restarts done so far.</summary>
    public int Restarts { get; private set; }

    /// <summary>
    /// A crash happened at <paramref name="now"/> (time since the machine started); <paramref name="requested"/>
    /// when it was asked for. Returns the delay before the restart, or null with <paramref name="giveUpReason"/>
    /// when the policy says to give up.
    /// </summary>
    public TimeSpan? OnCrash(TimeSpan now, bool requested, out string giveUpReason)
    {
        giveUpReason = "";
        if (config.Policy == RestartPolicy.Never)
        {
            giveUpReason = "its restart policy is 'never'";
            return null;
        }

        TimeSpan window = TimeSpan.FromMilliseconds(config.WindowMs);
        while (_restarts.Count > 0 && now - _restarts.Peek() > window)
        {
            _restarts.Dequeue();
        }

        if (_restarts.Count >= config.MaxRestarts)
        {
            giveUpReason = $"it crashed {_restarts.Count + 1} times within {config.WindowMs} ms (maxRestarts {config.MaxRestarts})";
            return null;
        }

        double factor = requested ? 1 : Math.Pow(2, _restarts.Count);
        _restarts.Enqueue(now);
        Restarts++;
        TimeSpan backoff = TimeSpan.FromMilliseconds(config.BackoffMs * factor);
        return backoff < MaxBackoff ? backoff : MaxBackoff;
    }
}
