namespace SplitEmu.CpuHost.Memory;

/// <summary>
/// An address space (memory, I/O ports, PCI configuration): a tree of regions under <see cref="Root"/> and the flat
/// view that is its current rendering. Changes are made inside a <see cref="MapTransaction"/> of the
/// <see cref="MachineMap"/> the space belongs to; the outermost commit renders a new immutable <see cref="FlatView"/>
/// for every space that changed and publishes them together with one reference swap. Readers take
/// <see cref="View"/> and use it without any lock. Writers are serialized by the machine's transaction lock.
/// </summary>
public sealed class AddressSpace
{
    private readonly MachineMap _machine;

    /// <summary>Where this space's view sits in the machine's <see cref="MapSnapshot.Views"/>.</summary>
    private readonly int _index;

    /// <summary>Whether the tree changed since the last commit (under the machine's transaction lock).</summary>
    private bool _dirty;

    private long _insertions;

    /// <summary>Creates a space of <paramref name="size"/> addresses with an empty root container, alone in a machine of its own.</summary>
    public AddressSpace(string name, ulong size)
        : this(name, size, new MachineMap())
    {
    }

    /// <summary>Creates a space of <paramref name="size"/> addresses with an empty root container, one of <paramref name="machine"/>'s.</summary>
    public AddressSpace(string name, ulong size, MachineMap machine)
    {
        Name = name;
        Root = MemoryRegion.Container(name, size);
        _machine = machine;
        _index = machine.Add(this);
    }

    /// <summary>"memory", "io" or "pci-config".</summary>
    public string Name { get; }

    /// <summary>The root container.</summary>
    public MemoryRegion Root { get; }

    /// <summary>The machine whose transactions change this space.</summary>
    public MachineMap Machine => _machine;

    /// <summary>The current flat view (lock-free read of the machine's current snapshot).</summary>
    public FlatView View => _machine.Current.Views[_index];

    /// <summary>This space's view in <paramref name="snapshot"/> (one snapshot gives every space's view of one instant).</summary>
    public FlatView ViewIn(MapSnapshot snapshot) => snapshot.Views[_index];

    /// <summary>Called after each publication that changed this space, on the committing thread (the CPU drops cached page pointers).</summary>
    public event Action<FlatView>? ViewPublished;

    /// <summary>Opens a (possibly nested) transaction on the whole machine; the outermost dispose commits every space at once.</summary>
    public MapTransaction BeginTransaction() => _machine.BeginTransaction();

    /// <summary>Whether the calling thread has a transaction open on this space's machine.</summary>
    public bool InTransaction => _machine.InTransaction;

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
        return _machine.Locked(() =>
        {
            List<MemoryRegion> leaves = [];
            Collect(Root, leaves);
            return leaves;
        });

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

    /// <summary>Whether the tree changed since the last commit; clears the mark (caller holds the machine's lock).</summary>
    internal bool TakeDirty()
    {
        bool dirty = _dirty;
        _dirty = false;
        return dirty;
    }

    /// <summary>Raises <see cref="ViewPublished"/> after the machine published <paramref name="view"/>.</summary>
    internal void OnPublished(FlatView view) => ViewPublished?.Invoke(view);

    private void RequireTransaction()
    {
        if (!_machine.InTransaction)
        {
            throw new InvalidOperationException($"changes to address space '{Name}' must be made inside BeginTransaction()");
        }
    }
}
