using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// The machine's warm spares: device processes started, warmed up and connected to the launcher but given no
/// devices yet, any of which can become whichever device process dies next (docs/processes.md, "Spares"). The pool
/// is filled once the machine is wired and refilled in the background after each take, so a burst of crashes is
/// served by processes that are already initialised, without a spare per device process.
/// </summary>
internal sealed class SparePool : IAsyncDisposable
{
    private readonly Func<string, DeferredLaunchCallbacks, Task<ChildProcess>> _start;
    private readonly Lock _gate = new();

    /// <summary>Spares started and not taken, oldest first (some may still be starting).</summary>
    private readonly List<Spare> _spares = [];
    private int _started;
    private bool _closed;

    /// <summary>A pool of <paramref name="size"/> spares, each started by <paramref name="start"/> (label, its output's target).</summary>
    public SparePool(int size, Func<string, DeferredLaunchCallbacks, Task<ChildProcess>> start)
    {
        Size = size;
        _start = start;
    }

    /// <summary>How many spares the pool keeps.</summary>
    public int Size { get; }

    /// <summary>Spares started so far, taken or not.</summary>
    public int Started => Volatile.Read(ref _started);

    /// <summary>Starts spares until <see cref="Size"/> are ready or starting (none once the pool is closed).</summary>
    public void Fill()
    {
        lock (_gate)
        {
            while (!_closed && _spares.Count < Size)
            {
                int number = ++_started;
                DeferredLaunchCallbacks output = new();
                _spares.Add(new Spare(_start($"spare{number}", output), output));
            }
        }
    }

    /// <summary>
    /// A live spare, one that finished starting first, now labelled <paramref name="label"/> and sending its devices'
    /// output to <paramref name="output"/>; null when the pool has none that is alive (the caller starts a process).
    /// The pool does not refill here: the caller calls <see cref="Fill"/> once its attach is done, so the new spare's
    /// start does not compete with that attach for the machine's cores.
    /// </summary>
    public async Task<ChildProcess?> TakeAsync(string label, ILaunchCallbacks output)
    {
        while (true)
        {
            Spare spare;
            lock (_gate)
            {
                if (_closed || _spares.Count == 0)
                {
                    return null;
                }

                spare = _spares.Find(s => s.Process.IsCompletedSuccessfully && !s.Process.Result.Process.HasExited) ?? _spares[0];
                _spares.Remove(spare);
            }

            if (await ChildProcess.LiveOnceStartedAsync(spare.Process).ConfigureAwait(false) is { } child)
            {
                if (Volatile.Read(ref _closed))
                {
                    // The machine began to stop while this spare finished starting: the pool's disposal no longer sees it.
                    await child.DisposeAsync().ConfigureAwait(false);
                    return null;
                }

                spare.Output.Assign(output);
                child.Relabel(label);
                return child;
            }
        }
    }

    /// <summary>Kills every spare that has started (a forced stop); one still starting ends when its connection to the launcher closes.</summary>
    public void KillAll()
    {
        lock (_gate)
        {
            Volatile.Write(ref _closed, true);
            foreach (Spare spare in _spares.Where(s => s.Process.IsCompletedSuccessfully))
            {
                spare.Process.Result.Kill();
            }
        }
    }

    /// <summary>Starts no more spares (the machine is stopping).</summary>
    public void Close()
    {
        lock (_gate)
        {
            Volatile.Write(ref _closed, true);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        Spare[] spares;
        lock (_gate)
        {
            Volatile.Write(ref _closed, true);
            spares = [.. _spares];
            _spares.Clear();
        }

        foreach (Spare spare in spares)
        {
            if (await ChildProcess.LiveOnceStartedAsync(spare.Process).ConfigureAwait(false) is { } child)
            {
                await child.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private sealed record Spare(Task<ChildProcess> Process, DeferredLaunchCallbacks Output);
}
