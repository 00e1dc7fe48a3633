namespace SplitEmu.CpuHost.Memory;

/// <summary>
/// Every address space of one machine as one unit of change. A transaction opened on any of its spaces is a
/// transaction on all of them: the outermost commit renders each space that changed and publishes the new flat
/// views of all spaces together in one <see cref="MapSnapshot"/>, with one reference swap. A reader that takes the
/// views from one snapshot (every lookup does, through <see cref="AddressSpace.View"/>) sees either the old or the
/// new map of every space, never a device whose ports moved and whose MMIO did not. See docs/memory-map.md.
/// </summary>
/// <remarks>
/// Writers are serialized by one lock for the whole machine (map changes are rare; lookups never take it).
/// Several vCPUs need nothing more: each lookup reads the current snapshot once, and successive lookups of one
/// thread never go back to an older snapshot, so a change is atomic for every vCPU across every space.
/// </remarks>
public sealed class MachineMap
{
    private readonly Lock _updateGate = new();

    /// <summary>The spaces, in the order of <see cref="MapSnapshot.Views"/> (under <see cref="_updateGate"/>).</summary>
    private readonly List<AddressSpace> _spaces = [];

    /// <summary>The published views of all spaces; replaced, never mutated.</summary>
    private MapSnapshot _current = new([], 0);

    /// <summary>Nesting depth of open transactions (under <see cref="_updateGate"/>).</summary>
    private int _transactionDepth;

    /// <summary>The current views of every space (lock-free read).</summary>
    public MapSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Called once after each publication, on the committing thread, before the spaces' own events.</summary>
    public event Action<MapSnapshot>? Published;

    /// <summary>Opens a (possibly nested) transaction over every space; the outermost dispose commits all of them at once.</summary>
    public MapTransaction BeginTransaction()
    {
        _updateGate.Enter();
        _transactionDepth++;
        return new MapTransaction(this);
    }

    /// <summary>Whether the calling thread has a transaction open on this machine.</summary>
    public bool InTransaction => _updateGate.IsHeldByCurrentThread;

    /// <summary>Runs <paramref name="read"/> under the update lock (a consistent look at the trees, for the monitor).</summary>
    internal T Locked<T>(Func<T> read)
    {
        lock (_updateGate)
        {
            return read();
        }
    }

    /// <summary>Adds <paramref name="space"/> with an empty view; returns its index in <see cref="MapSnapshot.Views"/>.</summary>
    internal int Add(AddressSpace space)
    {
        lock (_updateGate)
        {
            _spaces.Add(space);
            MapSnapshot current = _current;
            Volatile.Write(ref _current, new MapSnapshot([.. current.Views, FlatView.Empty], current.Generation));
            return _spaces.Count - 1;
        }
    }

    internal void EndTransaction()
    {
        try
        {
            if (--_transactionDepth == 0)
            {
                Commit();
            }
        }
        finally
        {
            _updateGate.Exit();
        }
    }

    /// <summary>Renders every changed space and publishes them all in one swap (caller holds the lock, outermost).</summary>
    private void Commit()
    {
        MapSnapshot current = _current;
        FlatView[]? views = null;
        for (int i = 0; i < _spaces.Count; i++)
        {
            if (_spaces[i].TakeDirty())
            {
                views ??= [.. current.Views];
                views[i] = FlatView.Render(_spaces[i].Root, current.Views[i].Generation + 1);
            }
        }

        if (views is null)
        {
            return;
        }

        MapSnapshot next = new(views, current.Generation + 1);
        Volatile.Write(ref _current, next); // pairs with the Volatile.Read in Current: one swap for every space
        Published?.Invoke(next);
        for (int i = 0; i < _spaces.Count; i++)
        {
            if (!ReferenceEquals(views[i], current.Views[i]))
            {
                _spaces[i].OnPublished(views[i]);
            }
        }
    }
}

/// <summary>The flat views of every space of a machine as one commit left them.</summary>
/// <param name="Views">One view per space, in the order the spaces joined the machine.</param>
/// <param name="Generation">Number of machine-wide publications so far.</param>
public sealed record MapSnapshot(FlatView[] Views, int Generation);

/// <summary>An open transaction on a <see cref="MachineMap"/>; dispose to commit.</summary>
public readonly struct MapTransaction : IDisposable
{
    private readonly MachineMap _map;

    internal MapTransaction(MachineMap map) => _map = map;

    /// <summary>Commits (if outermost) and closes the transaction.</summary>
    public void Dispose() => _map.EndTransaction();
}
