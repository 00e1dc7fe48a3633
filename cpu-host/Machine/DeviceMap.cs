using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Memory;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// Which device regions are in the map: plugging, unplugging with drains, re-plugging, and the changes a device
/// asks for from inside its own handler. See docs/memory-map.md for the rules and why each holds.
/// </summary>
/// <remarks>
/// Removal always goes: publish the new view at once (no new lookup finds the region), close its lease (no new
/// lease), wait for the leases taken before to be released, a barrier through the device's ring (every request
/// sent before was handled), then tell the device its region is gone. A drain that misses its deadline stops
/// the device first (killing its process) so that no lease is released while a handler may still run.
/// </remarks>
public sealed class DeviceMap
{
    /// <summary>Default time an unplug or removal may take to drain before the device is stopped.</summary>
    public static readonly TimeSpan DefaultDrainDeadline = TimeSpan.FromSeconds(5);

    private readonly AddressSpace _memory;
    private readonly AddressSpace _io;
    private readonly AddressSpace? _pciConfig;

    /// <summary>Serializes changes to the device table; dispatch never takes it.</summary>
    private readonly Lock _gate = new();
    private readonly Dictionary<string, PluggedDevice> _devices = new(StringComparer.Ordinal);
    private long _rejectedRequests;

    /// <summary>Manages device regions in <paramref name="memory"/>, <paramref name="io"/> and (PCI machines) <paramref name="pciConfig"/>.</summary>
    public DeviceMap(AddressSpace memory, AddressSpace io, AddressSpace? pciConfig = null)
    {
        _memory = memory;
        _io = io;
        _pciConfig = pciConfig;
    }

    /// <summary>Map changes devices asked for that were refused (unknown region, out of range).</summary>
    public long RejectedRequests => Interlocked.Read(ref _rejectedRequests);

    /// <summary>
    /// Why the last refused move or enable was refused, naming the region and where it would have gone and the
    /// range (with its owner) it would have covered; null until one is.
    /// </summary>
    public string? LastRefusal { get; private set; }

    /// <summary>
    /// Maps <paramref name="deviceId"/>'s regions, dispatching through <paramref name="link"/>. Returns the handle its
    /// regions carry as their owner, by which the device's own map changes reach it (<see cref="RequestChange"/>).
    /// </summary>
    public DeviceHandle Plug(string deviceId, IReadOnlyList<DeviceRegionInfo> regions, IDeviceLink link)
    {
        lock (_gate)
        {
            if (_devices.ContainsKey(deviceId))
            {
                throw new InvalidOperationException($"device '{deviceId}' is already plugged");
            }

            PluggedDevice device = new(deviceId, link, [.. regions]);
            if (link.CanBeStopped)
            {
                CheckDeclaredByDeviceProcess(device, regions);
            }

            _devices.Add(deviceId, device);
            MapRegions(device);
            return device;
        }
    }

    /// <summary>
    /// Removes every region of <paramref name="deviceId"/>. The new view is published before this returns; the task
    /// completes when all were drained and the device was told. Calling it again returns the same task.
    /// </summary>
    public Task UnplugAsync(string deviceId, TimeSpan deadline)
    {
        lock (_gate)
        {
            PluggedDevice device = Find(deviceId);
            if (device.Unplugging is { } pending)
            {
                return pending;
            }

            List<Task> drains = [];
            device.Link.SetAbandoned(true);
            using (MapTransaction memory = _memory.BeginTransaction())
            using (MapTransaction io = _io.BeginTransaction())
            using (MapTransaction? pci = _pciConfig?.BeginTransaction())
            {
                for (int i = 0; i < device.Placements.Length; i++)
                {
                    drains.Add(RemoveUnderGate(device, i, deadline));
                }
            }

            device.Unplugging = Task.WhenAll(drains);
            return device.Unplugging;
        }
    }

    /// <summary>
    /// Unplugs and waits. Refused when the calling thread is inside an access to one of the device's regions:
    /// that wait could never end (use <see cref="UnplugAsync"/>, or ask from the handler through its context).
    /// </summary>
    /// <exception cref="InvalidOperationException">Called from inside an access to the device.</exception>
    public void Unplug(string deviceId, TimeSpan deadline)
    {
        if (FindOrNull(deviceId) is { } device && AccessContext.HoldsRegionOf(device))
        {
            throw new InvalidOperationException(
                $"synchronous unplug of device '{deviceId}' from inside an access to its own region would wait for itself; " +
                "use UnplugAsync, or request the change from the device's handler");
        }

        UnplugAsync(deviceId, deadline).WaitAsync(deadline + deadline).GetAwaiter().GetResult();
    }

    /// <summary>Maps the removed regions of a device again (the device is told first).</summary>
    /// <exception cref="InvalidOperationException">A removed region has not finished draining.</exception>
    public void Replug(string deviceId)
    {
        lock (_gate)
        {
            PluggedDevice device = Find(deviceId);
            if (device.Placements.Any(s => s.Mapped is null && s.Drain is { IsCompleted: false }))
            {
                throw new InvalidOperationException($"device '{deviceId}' still has a region draining; await its unplug first");
            }

            device.Unplugging = null;
            device.Link.SetAbandoned(false);
            MapRegions(device);
        }
    }

    /// <summary>
    /// A restarted device serves its regions through <paramref name="link"/> now: its mapped regions are replaced
    /// by fresh ones on the new link in one publication. The old regions drain asynchronously (accesses that
    /// were waiting for the restart finish on the new incarnation and then release them); the returned task
    /// completes when they have, after which the old link may be freed.
    /// </summary>
    public Task Rebind(string deviceId, IDeviceLink link)
    {
        lock (_gate)
        {
            PluggedDevice device = Find(deviceId);
            List<Task> drains = [];
            using MapTransaction memory = _memory.BeginTransaction();
            using MapTransaction io = _io.BeginTransaction();
            using MapTransaction? pci = _pciConfig?.BeginTransaction();
            for (int i = 0; i < device.Placements.Length; i++)
            {
                RegionPlacement placement = device.Placements[i];
                if (placement.Mapped is not { } old)
                {
                    continue; // removed regions stay removed
                }

                AddressSpace space = SpaceOf(device.Infos[i]);
                space.RemoveSubregion(old);
                drains.Add(old.Lease.CloseAsync());
                placement.Mapped = AddRegion(device, i, link);
            }

            device.Link = link;
            return Task.WhenAll(drains);
        }
    }

    /// <summary>
    /// A device (<paramref name="device"/>, the handle its plug returned) asks to change one of its own regions.
    /// Applied once the calling thread's access has released its lease (at once outside an access), before the guest's
    /// next instruction. Untrusted input: requests for unknown regions or out-of-range bases are refused and counted,
    /// and so are those of a device this map no longer has or does not have yet (null: not plugged so far).
    /// </summary>
    public void RequestChange(DeviceHandle? device, int region, MapChangeKind kind, ulong newBase) =>
        AccessContext.AfterAccess(() => ApplyChange(device, region, kind, newBase));

    /// <summary>Whether every region of <paramref name="deviceId"/> is out of the map and drained.</summary>
    public bool IsUnplugged(string deviceId)
    {
        lock (_gate)
        {
            return _devices.TryGetValue(deviceId, out PluggedDevice? device) && device.Unplugging is { IsCompletedSuccessfully: true };
        }
    }

    /// <summary>Forgets a device whose regions are all gone (it is being removed from the machine).</summary>
    public void Forget(string deviceId)
    {
        lock (_gate)
        {
            _devices.Remove(deviceId);
        }
    }

    /// <summary>Every device region with its state and live lease count (for the monitor).</summary>
    public IReadOnlyList<RegionReport> Describe()
    {
        List<RegionReport> reports = [];
        lock (_gate)
        {
            foreach (PluggedDevice device in _devices.Values)
            {
                for (int i = 0; i < device.Placements.Length; i++)
                {
                    RegionPlacement placement = device.Placements[i];
                    DeviceRegionInfo info = device.Infos[i];
                    MemoryRegion? region = placement.Mapped ?? placement.Removed;
                    string state = placement.Mapped is { } mapped
                        ? (mapped.Enabled ? "mapped" : "disabled")
                        : placement.Removed is { Lease.IsDrained: false } ? "draining" : "removed";
                    reports.Add(new RegionReport(
                        info.Space switch { AddressSpaceKind.Io => "io", AddressSpaceKind.PciConfig => "pci-config", _ => "memory" },
                        placement.Base,
                        info.Size,
                        region?.Name ?? $"{device.Id}.{info.Name}",
                        device.Id,
                        "device",
                        state,
                        region?.Lease.Count ?? 0));
                }
            }
        }

        return reports;
    }

    private PluggedDevice Find(string deviceId) =>
        _devices.TryGetValue(deviceId, out PluggedDevice? device)
            ? device
            : throw new InvalidOperationException($"no device '{deviceId}' is plugged");

    private PluggedDevice? FindOrNull(string deviceId)
    {
        lock (_gate)
        {
            return _devices.GetValueOrDefault(deviceId);
        }
    }

    private AddressSpace SpaceOf(DeviceRegionInfo info) => info.Space switch
    {
        AddressSpaceKind.Io => _io,
        AddressSpaceKind.PciConfig => _pciConfig ?? throw new InvalidOperationException($"region '{info.Name}' is in PCI configuration space, and this machine has no PCI host bridge"),
        _ => _memory,
    };

    /// <summary>Adds fresh region objects (a removed region's lease is closed for good) for every unmapped placement.</summary>
    private void MapRegions(PluggedDevice device)
    {
        for (int i = 0; i < device.Placements.Length; i++)
        {
            if (device.Placements[i].Removed is not null)
            {
                device.Link.NotifyRegionBack(i); // in ring order before any access to the new region
            }
        }

        using MapTransaction memory = _memory.BeginTransaction();
        using MapTransaction io = _io.BeginTransaction();
        using MapTransaction? pci = _pciConfig?.BeginTransaction();
        for (int i = 0; i < device.Placements.Length; i++)
        {
            RegionPlacement placement = device.Placements[i];
            if (placement.Mapped is not null)
            {
                continue;
            }

            placement.Mapped = AddRegion(device, i, device.Link);
            placement.Removed = null;
        }
    }

    /// <summary>
    /// Places a fresh region for placement <paramref name="index"/> at the placement's base, dispatching through
    /// <paramref name="link"/> (caller holds the gate and a transaction). A closed lease never reopens, so every
    /// (re)plug gets a new region object.
    /// </summary>
    private MemoryRegion AddRegion(PluggedDevice device, int index, IDeviceLink link)
    {
        DeviceRegionInfo info = device.Infos[index];
        MemoryRegion region = MemoryRegion.Device($"{device.Id}.{info.Name}", info.Size, link.HandlerFor(index), device, info.MinAccessSize, info.MaxAccessSize);
        AddressSpace space = SpaceOf(info);
        space.AddSubregion(space.Root, device.Placements[index].Base, region, priority: 1);
        if (!device.Placements[index].Enabled)
        {
            space.SetEnabled(region, false); // hidden as it was (or as declared): a re-plug or restart shows nothing new
        }

        return region;
    }

    /// <summary>Takes placement <paramref name="index"/> out of the map (caller holds the gate); returns its drain.</summary>
    private Task RemoveUnderGate(PluggedDevice device, int index, TimeSpan deadline)
    {
        RegionPlacement placement = device.Placements[index];
        if (placement.Mapped is not { } region)
        {
            return placement.Drain ?? Task.CompletedTask;
        }

        AddressSpace space = SpaceOf(device.Infos[index]);
        using (space.BeginTransaction())
        {
            space.RemoveSubregion(region); // published at the outermost commit: at once for single removals
        }

        placement.Mapped = null;
        placement.Removed = region;
        Task closed = region.Lease.CloseAsync();
        // Never run the rest inline on the caller, which may be a vCPU thread.
        placement.Drain = Task.Run(() => DrainAndNotifyAsync(device, index, closed, deadline));
        return placement.Drain;
    }

    private static async Task DrainAndNotifyAsync(PluggedDevice device, int index, Task closed, TimeSpan deadline)
    {
        try
        {
            await closed.WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (TimeoutException) when (device.Link.CanBeStopped)
        {
            // A handler is stuck: stop the device for certain, then its waiters give their leases back.
            device.Link.StopHungDevice($"region {index} did not drain within {deadline.TotalMilliseconds} ms");
            await closed.WaitAsync(deadline).ConfigureAwait(false);
        }

        device.Link.Barrier();
        device.Link.NotifyRegionGone(index);
    }

    private void ApplyChange(DeviceHandle? handle, int index, MapChangeKind kind, ulong newBase)
    {
        lock (_gate)
        {
            // The handle's own entry, if this map still has it: no lookup by id, and a forgotten device's late request fails.
            if (handle is not PluggedDevice device || !_devices.TryGetValue(device.Id, out PluggedDevice? current) || !ReferenceEquals(current, device)
                || (uint)index >= (uint)device.Placements.Length || device.Placements[index].Mapped is not { } region)
            {
                Interlocked.Increment(ref _rejectedRequests);
                return;
            }

            AddressSpace space = SpaceOf(device.Infos[index]);
            switch (kind)
            {
                case MapChangeKind.Move when !CanMoveTo(space, region, newBase, out string? why):
                    Refuse($"device '{device.Id}' asked to move {Placement(region.Name, space, device.Placements[index].Base, region.Size)} to {Span(space, newBase, region.Size)}: refused, {why}");
                    break;
                case MapChangeKind.Move:
                    using (space.BeginTransaction())
                    {
                        space.Move(region, newBase);
                        device.Placements[index].Base = newBase;
                        if (device.Placements[index].EnableRefused)
                        {
                            TryShow(space, region, device.Placements[index]); // moved off the range that kept it hidden
                        }
                    }

                    break;
                case MapChangeKind.Enable:
                    using (space.BeginTransaction())
                    {
                        TryShow(space, region, device.Placements[index]);
                    }

                    break;
                case MapChangeKind.Disable:
                    using (space.BeginTransaction())
                    {
                        space.SetEnabled(region, false);
                    }

                    device.Placements[index].Enabled = false;
                    device.Placements[index].EnableRefused = false;
                    break;
                case MapChangeKind.Remove:
                    _ = RemoveUnderGate(device, index, DefaultDrainDeadline);
                    break;
                default:
                    Interlocked.Increment(ref _rejectedRequests);
                    break;
            }
        }
    }

    /// <summary>
    /// Shows a region the device wants enabled, unless another owner decodes its range: then it stays hidden
    /// (the refusal is counted) and is shown when a later move takes it somewhere free. Caller holds the gate and
    /// a transaction of <paramref name="space"/>.
    /// </summary>
    private void TryShow(AddressSpace space, MemoryRegion region, RegionPlacement placement)
    {
        if (FindOverlap(space, region.Owner, placement.Base, region.Size) is { } hit)
        {
            placement.EnableRefused = true; // shown there, it would capture another owner's traffic
            Refuse($"device '{region.Owner}' asked to show {Placement(region.Name, space, placement.Base, region.Size)}: kept hidden until it moves, it would cover {Describe(space, hit)}");
            return;
        }

        space.SetEnabled(region, true);
        placement.Enabled = true;
        placement.EnableRefused = false;
    }

    /// <summary>
    /// Whether <paramref name="region"/> may move to <paramref name="newBase"/>: inside its space, never within PCI
    /// configuration space (a function's address is its identity), and never over anything another owner decodes
    /// (RAM, ROM, or another device's region), so no device (or guest BAR write) can capture another's traffic.
    /// </summary>
    private bool CanMoveTo(AddressSpace space, MemoryRegion region, ulong newBase, out string? why)
    {
        why = newBase > space.Root.Size - region.Size ? $"outside the {space.Name} space"
            : ReferenceEquals(space, _pciConfig) ? "a PCI function's configuration address does not move"
            : FindOverlap(space, region.Owner, newBase, region.Size) is { } hit ? $"it would cover {Describe(space, hit)}"
            : null;
        return why is null;
    }

    /// <summary>The first visible range in [<paramref name="start"/>, +<paramref name="size"/>) that <paramref name="owner"/> does not own, or null.</summary>
    private static FlatRange? FindOverlap(AddressSpace space, DeviceHandle? owner, ulong start, ulong size)
    {
        ulong end = start + size;
        foreach (FlatRange range in space.View.Ranges)
        {
            if (range.Start < end && start < range.End && !ReferenceEquals(range.Region.Owner, owner))
            {
                return range;
            }
        }

        return null;
    }

    private void Refuse(string why)
    {
        Interlocked.Increment(ref _rejectedRequests);
        LastRefusal = why;
    }

    /// <summary>"io 0x3f8-0x3ff": the addresses a range of <paramref name="size"/> at <paramref name="start"/> covers.</summary>
    private static string Span(AddressSpace space, ulong start, ulong size) => $"{space.Name} 0x{start:x}-0x{start + size - 1:x}";

    /// <summary>"region 'com1.regs' at io 0x3f8-0x3ff".</summary>
    private static string Placement(string name, AddressSpace space, ulong start, ulong size) => $"region '{name}' at {Span(space, start, size)}";

    /// <summary>The range another owner decodes, with the region and its owner: "region 'com1.regs' at io 0x3f8-0x3ff of device 'com1'".</summary>
    private static string Describe(AddressSpace space, FlatRange hit) =>
        $"{Placement(hit.Region.Name, space, hit.Start, hit.End - hit.Start)} " +
        (hit.Region.Owner is { } owner ? $"of device '{owner}'" : $"of the machine ({hit.Region.Kind.ToString().ToLowerInvariant()})");

    /// <summary>
    /// A device process is not trusted with where its regions go: each it declares must fit its address space
    /// and, if visible, must not cover RAM, ROM or another device's region (it would capture that traffic).
    /// </summary>
    private void CheckDeclaredByDeviceProcess(PluggedDevice device, IReadOnlyList<DeviceRegionInfo> regions)
    {
        foreach (DeviceRegionInfo info in regions)
        {
            AddressSpace space = SpaceOf(info);
            if (info.Size == 0 || info.Size > space.Root.Size || info.Base > space.Root.Size - info.Size)
            {
                throw new InvalidDataException($"device '{device.Id}' declared region '{info.Name}' at 0x{info.Base:X} (0x{info.Size:X} bytes), outside its {info.Space} space");
            }

            if (MemoryRegion.AccessSizeProblem(info.Size, info.MinAccessSize, info.MaxAccessSize) is { } problem)
            {
                throw new InvalidDataException($"device '{device.Id}' declared region '{info.Name}' with {problem}");
            }

            if (!info.StartsDisabled && FindOverlap(space, device, info.Base, info.Size) is { } hit)
            {
                throw new InvalidDataException($"device '{device.Id}' declared {Placement($"{device.Id}.{info.Name}", space, info.Base, info.Size)} over another owner's range: {Describe(space, hit)}");
            }
        }
    }

    /// <summary>A device in the map; it is also the handle its regions carry (<see cref="DeviceHandle"/>).</summary>
    private sealed class PluggedDevice(string id, IDeviceLink link, DeviceRegionInfo[] infos) : DeviceHandle(id)
    {
        public IDeviceLink Link { get; set; } = link;

        public DeviceRegionInfo[] Infos { get; } = infos;

        public RegionPlacement[] Placements { get; } = infos.Select(i => new RegionPlacement { Base = i.Base, Enabled = !i.StartsDisabled }).ToArray();

        /// <summary>The unplug in progress or done, until a re-plug.</summary>
        public Task? Unplugging { get; set; }
    }

    private sealed class RegionPlacement
    {
        /// <summary>Where the region sits (moves change it).</summary>
        public ulong Base;

        /// <summary>Whether the region decodes (device-requested enable/disable change it).</summary>
        public bool Enabled;

        /// <summary>The device asked for it enabled, but another owner decodes its range: shown after a move off it.</summary>
        public bool EnableRefused;

        /// <summary>The region object in the map, or null while removed.</summary>
        public MemoryRegion? Mapped;

        /// <summary>The last removed region object (its lease shows the drain).</summary>
        public MemoryRegion? Removed;

        /// <summary>The drain of the last removal.</summary>
        public Task? Drain;
    }
}
