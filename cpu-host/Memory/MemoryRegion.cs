namespace SplitEmu.CpuHost.Memory;

/// <summary>
/// A node of an address space's region tree: RAM, ROM, a device range, a container of subregions, or an
/// alias. Placement (parent, offset, priority, enabled) changes only inside a transaction of the owning
/// <see cref="AddressSpace"/>; the guest sees changes when the transaction commits a new <see cref="FlatView"/>.
/// </summary>
public sealed unsafe class MemoryRegion
{
    private readonly List<MemoryRegion> _children = [];

    private MemoryRegion(string name, RegionKind kind, ulong size, DeviceHandle? owner)
    {
        ArgumentOutOfRangeException.ThrowIfZero(size);
        Name = name;
        Kind = kind;
        Size = size;
        Owner = owner;
    }

    /// <summary>Name for the monitor and errors.</summary>
    public string Name { get; }

    /// <summary>What the region is.</summary>
    public RegionKind Kind { get; }

    /// <summary>Size in bytes (ports in the I/O space).</summary>
    public ulong Size { get; }

    /// <summary>The device that owns the region, or null for machine-owned regions.</summary>
    public DeviceHandle? Owner { get; }

    /// <summary>Host memory of a RAM or ROM region.</summary>
    public byte* HostMemory { get; private init; }

    /// <summary>Dispatch target of a device region.</summary>
    public IRegionHandler? Handler { get; private init; }

    /// <summary>Region an alias shows.</summary>
    public MemoryRegion? AliasTarget { get; private init; }

    /// <summary>Offset into <see cref="AliasTarget"/> where the alias window starts.</summary>
    public ulong AliasOffset { get; private init; }

    /// <summary>
    /// The access sizes the device region's handler takes as they come: bit <c>n</c> set when an access of <c>n</c>
    /// bytes (1, 2, 4 or 8) reaches it unchanged, every power of two from <see cref="MinAccessSize"/> to
    /// <see cref="MaxAccessSize"/>. The bus splits or widens the others (see <c>MachineBus</c>).
    /// </summary>
    public int AccessSizes { get; private init; } = AllAccessSizes;

    /// <summary>The narrowest access the handler takes (a narrower one is widened to this, naturally aligned).</summary>
    public int MinAccessSize { get; private init; } = 1;

    /// <summary>The widest access the handler takes (a wider one is split into accesses of this size, in address order).</summary>
    public int MaxAccessSize { get; private init; } = 8;

    /// <summary><see cref="AccessSizes"/> of a region that takes 1, 2, 4 and 8 bytes.</summary>
    public const int AllAccessSizes = 1 | 2 | 4 | 8;

    /// <summary>Leases of accesses in flight to this region (device regions).</summary>
    public RegionLease Lease { get; } = new();

    /// <summary>The container this region is placed in, or null.</summary>
    public MemoryRegion? Parent { get; internal set; }

    /// <summary>Offset within <see cref="Parent"/>.</summary>
    public ulong Offset { get; internal set; }

    /// <summary>Among overlapping siblings, the higher priority is visible.</summary>
    public int Priority { get; internal set; }

    /// <summary>Whether the region takes part in rendering.</summary>
    public bool Enabled { get; internal set; } = true;

    /// <summary>Order of insertion among siblings: among equal priorities the later one is visible.</summary>
    internal long InsertionOrder { get; set; }

    /// <summary>Subregions of a container.</summary>
    public IReadOnlyList<MemoryRegion> Children => _children;

    internal List<MemoryRegion> MutableChildren => _children;

    /// <summary>A RAM region over <paramref name="size"/> bytes of host memory at <paramref name="host"/>.</summary>
    public static MemoryRegion Ram(string name, ulong size, byte* host) =>
        new(name, RegionKind.Ram, size, null) { HostMemory = host };

    /// <summary>A ROM region over host memory; guest writes are dropped.</summary>
    public static MemoryRegion Rom(string name, ulong size, byte* host) =>
        new(name, RegionKind.Rom, size, null) { HostMemory = host };

    /// <summary>
    /// A device region whose accesses go to <paramref name="handler"/>, in sizes from <paramref name="minAccessSize"/>
    /// to <paramref name="maxAccessSize"/> (powers of two, 1 to 8; the region's size a multiple of the minimum).
    /// </summary>
    /// <exception cref="ArgumentException">The sizes are not powers of two from 1 to 8 in order, or do not divide the region.</exception>
    public static MemoryRegion Device(string name, ulong size, IRegionHandler handler, DeviceHandle owner, int minAccessSize = 1, int maxAccessSize = 8)
    {
        if (AccessSizeProblem(size, minAccessSize, maxAccessSize) is { } problem)
        {
            throw new ArgumentException($"device region '{name}': {problem}", nameof(minAccessSize));
        }

        int sizes = 0;
        for (int accepted = minAccessSize; accepted <= maxAccessSize; accepted <<= 1)
        {
            sizes |= accepted;
        }

        return new(name, RegionKind.Device, size, owner)
        {
            Handler = handler,
            AccessSizes = sizes,
            MinAccessSize = minAccessSize,
            MaxAccessSize = maxAccessSize,
        };
    }

    /// <summary>What is wrong with declaring access sizes <paramref name="min"/>..<paramref name="max"/> on a region of <paramref name="size"/> bytes, or null.</summary>
    public static string? AccessSizeProblem(ulong size, int min, int max)
    {
        static bool Valid(int n) => n is 1 or 2 or 4 or 8;
        if (!Valid(min) || !Valid(max) || min > max)
        {
            return $"access sizes {min}..{max} are not powers of two from 1 to 8 with the minimum first";
        }

        return size % (ulong)min != 0 ? $"its size 0x{size:X} is not a multiple of its minimum access size {min}" : null;
    }

    /// <summary>An empty container.</summary>
    public static MemoryRegion Container(string name, ulong size) =>
        new(name, RegionKind.Container, size, null);

    /// <summary>A window of <paramref name="size"/> bytes onto <paramref name="target"/> from <paramref name="offset"/>.</summary>
    public static MemoryRegion Alias(string name, MemoryRegion target, ulong offset, ulong size) =>
        new(name, RegionKind.Alias, size, target.Owner) { AliasTarget = target, AliasOffset = offset };

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Kind}, 0x{Size:X} bytes{(Owner is null ? "" : ", owner " + Owner.Id)})";
}
