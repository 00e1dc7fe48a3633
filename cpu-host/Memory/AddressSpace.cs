namespace SplitEmu.CpuHost.Memory;

/// <summary>
/// An address space (memory or I/O ports): a tree of regions under <see cref="Root"/> and the flat view that
/// is its current rendering. Changes are made inside a <see cref="MapTransaction"/>; the outermost commit
/// renders a new immutable <see cref="FlatView"/> and publishes it with one reference swap. Readers take
/// <see cref="View"/> and use it without any lock. Writers are serialized by the transaction lock.
/// </summary>
public sealed class AddressSpace
{
    private readonly Lock _updateGate = new();

    /// <summary>The published view; replaced, never mutated.</summary>
    private FlatView _view = FlatView.Empty;

    /// <summary>Nesting depth of open transactions (under <see cref="_updateGate"/>).</summary>
    private int _transactionDepth;

    /// <summary>Whether the tree changed since the last commit (under <see cref="_updateGate"/>).</summary>
    private bool _dirty;

    private long _insertions;

    /// <summary>Creates a space of <paramref name="size"/> addresses with an empty root container.</summary>
    public AddressSpace(string name, ulong size)
    {
        Name = name;
        Root = MemoryRegion.Container(name, size);
    }

    /// <summary>"memory" or "io".</summary>
    public string Name { get; }

    /// <summary>The root container.</summary>
    public MemoryRegion Root { get; }

    /// <summary>The current flat view (lock-free read).</summary>
    public FlatView View => Volatile.Read(ref _view);

    /// <summary>Called after each publication, on the committing thread (the CPU drops cached page pointers).</summary>
    public event Action<FlatView>? ViewPublished;

    /// <summary>Opens a (possibly nested) transaction; the outermost dispose commits.</summary>
    public MapTransaction BeginTransaction()
    {
        _updateGate.Enter();
        _transactionDepth++;
        return new MapTransaction(this);
    }

    /// <summary>Whether the calling thread has a transaction open on this space.</summary>
    public bool InTransaction => _updateGate.IsHeldByCurrentThread;

    /// <summary>Places <paramref name="child"/> in <paramref name="container"/> at <paramref name="offset"/>.</summary>
    public void AddSubregion(MemoryRegion container, ulong offset, MemoryRegion child, int priority = 0)
    {
        RequireTransaction();
        if (container.Kind != RegionKind.Container)
        {
            throw new ArgumentException($"{container} is not a container", nameof(container));
        }

        if (child.Parent is not null)
        {
            throw new InvalidOperationException($"{child} is already placed in {child.Parent.Name}");
        }

        child.Parent = container;
        child.Offset = offset;
        child.Priority = priority;
        child.InsertionOrder = ++_insertions;
        container.MutableChildren.Add(child);
        _dirty = true;
    }

    /// <summary>Takes <paramref name="child"/> out of its container.</summary>
    public void RemoveSubregion(MemoryRegion child)
    {
        RequireTransaction();
        if (child.Parent is { } parent)
        {
            parent.MutableChildren.Remove(child);
            child.Parent = null;
            _dirty = true;
        }
    }

    /// <summary>Moves <paramref name="child"/> to a new offset in its container.</summary>
    public void Move(MemoryRegion child, ulong offset)
    {
        RequireTransaction();
        child.Offset = offset;
        _dirty = true;
    }

    /// <summary>Shows or hides <paramref name="region"/>.</summary>
    public void SetEnabled(MemoryRegion region, bool enabled)
    {
        RequireTransaction();
        region.Enabled = enabled;
        _dirty = true;
    }

    /// <summary>Every leaf region placed in the tree (for the monitor).</summary>
    public IReadOnlyList<MemoryRegion> Leaves()
    {
        List<MemoryRegion> leaves = [];
        lock (_updateGate)
        {
            Collect(Root, leaves);
        }

        return leaves;

        static void Collect(MemoryRegion region, List<MemoryRegion> into)
        {
            if (region.Kind == RegionKind.Container)
            {
                foreach (MemoryRegion child in region.Children)
                {
                    Collect(child, into);
                }
            }
            else
            {
                into.Add(region);
            }
        }
    }

    internal void EndTransaction()
    {
        try
        {
            if (--_transactionDepth == 0 && _dirty)
            {
                _dirty = false;
                FlatView view = FlatView.Render(Root, View.Generation + 1);
                Volatile.Write(ref _view, view);
                ViewPublished?.Invoke(view);
            }
        }
        finally
        {
            _updateGate.Exit();
        }
    }

    private void RequireTransaction()
    {
        if (!_updateGate.IsHeldByCurrentThread)
        {
            throw new InvalidOperationException($"changes to address space '{Name}' must be made inside BeginTransaction()");
        }
    }
}

/// <summary>An open transaction on an <see cref="AddressSpace"/>; dispose to commit.</summary>
public readonly struct MapTransaction : IDisposable
{
    private readonly AddressSpace _space;

    internal MapTransaction(AddressSpace space) => _space = space;

    /// <summary>Commits (if outermost) and closes the transaction.</summary>
    public void Dispose() => _space.EndTransaction();
}
