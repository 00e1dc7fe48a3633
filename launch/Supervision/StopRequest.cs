namespace SplitEmu.Launch.Supervision;

/// <summary>
/// A user's request to stop a run, from a signal or the console's Ctrl-A X: the first Ctrl-C (SIGINT) or SIGTERM asks for a clean stop
/// (children stopped, report written, files removed); a second Ctrl-C while that stop is still under way forces
/// it (every process of the machine killed at once), as a person pressing Ctrl-C twice expects.
/// </summary>
public sealed class StopRequest : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly Lock _gate = new();
    private Action? _force;
    private int _interrupts;

    /// <summary>A request linked to <paramref name="outer"/> (the command line's own cancellation).</summary>
    public StopRequest(CancellationToken outer) => _stop = CancellationTokenSource.CreateLinkedTokenSource(outer);

    /// <summary>Cancelled once a stop is asked for.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Why the run was asked to stop, for the report ("stopped by Ctrl-C"), or null.</summary>
    public string? Detail { get; private set; }

    /// <summary>True once a second Ctrl-C forced the stop.</summary>
    public bool Forced { get; private set; }

    /// <summary>The user pressed Ctrl-C (the terminal sent SIGINT): the first stops cleanly, the second forces.</summary>
    public void Interrupt()
    {
        Action? force = null;
        lock (_gate)
        {
            if (++_interrupts == 1)
            {
                Detail ??= "stopped by Ctrl-C";
            }
            else if (!Forced)
            {
                Forced = true;
                Detail = "forced by a second Ctrl-C";
                force = _force;
            }
        }

        force?.Invoke();
        _stop.Cancel();
    }

    /// <summary>SIGTERM: a clean stop.</summary>
    public void Terminate()
    {
        lock (_gate)
        {
            Detail ??= "stopped by SIGTERM";
        }

        _stop.Cancel();
    }

    /// <summary>
    /// The user asked at the console (Ctrl-A X, where the terminal's Ctrl-C goes to the guest): a clean stop, like
    /// the first Ctrl-C, with <paramref name="detail"/> in the report.
    /// </summary>
    public void Quit(string detail)
    {
        lock (_gate)
        {
            Detail ??= detail;
        }

        _stop.Cancel();
    }

    /// <summary>What a forced stop does (kill the machine's processes); runs at once if the stop was already forced.</summary>
    public void OnForce(Action force)
    {
        bool now;
        lock (_gate)
        {
            _force = force;
            now = Forced;
        }

        if (now)
        {
            force();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _stop.Dispose();
}
