using System.Runtime.CompilerServices;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Memory;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// Dispatch of the CPU's accesses: look the address up in the current flat view, take a lease on the region,
/// call its handler, release the lease. RAM and ROM are served from host memory. Addresses with no region read
/// as all ones and ignore writes. An access that straddles two ranges is cut where the first range ends, and
/// each part goes to its own range. A device region gets only the access sizes it declared
/// (<see cref="MemoryRegion.AccessSizes"/>): a wider access is split into naturally aligned parts of at most its
/// maximum, a narrower one widened to the aligned unit of its minimum (docs/memory-map.md, "Access sizes").
/// </summary>
public sealed unsafe class MachineBus : ICpuBus
{
    private const ulong PageMask = 0xFFF;
    private readonly AddressSpace _memory;
    private readonly AddressSpace _io;
    private readonly AddressSpace? _pciConfig;

    /// <summary>Bumped after every publication of the machine's map (read by the CPU before each instruction).</summary>
    private int _generation;

    /// <summary>Dispatches over <paramref name="memory"/>, <paramref name="io"/> and (PCI machines) <paramref name="pciConfig"/>.</summary>
    public MachineBus(AddressSpace memory, AddressSpace io, AddressSpace? pciConfig = null)
    {
        _memory = memory;
        _io = io;
        _pciConfig = pciConfig;
        // Once per machine-wide publication (a test may give the bus spaces of separate machines: each counts).
        foreach (MachineMap machine in new[] { memory.Machine, io.Machine, pciConfig?.Machine }.OfType<MachineMap>().Distinct())
        {
            machine.Published += _ => Interlocked.Increment(ref _generation);
        }
    }

    /// <summary>Accesses that found no region.</summary>
    public long UnassignedAccesses;

    /// <summary>
    /// The device processes still attaching at the machine's start, or null when there are none (a machine of inline
    /// devices, a test's bus). An access that finds no region while it is closed waits for it, then looks again.
    /// </summary>
    public DeviceStartGate? StartGate { get; set; }

    /// <inheritdoc/>
    public int MapGeneration => Volatile.Read(ref _generation);

    /// <inheritdoc/>
    public byte* GetRamPage(ulong physicalAddress, bool write)
    {
        if (!_memory.View.TryFind(physicalAddress, out FlatRange range))
        {
            return null;
        }

        RegionKind kind = range.Region.Kind;
        if (kind != RegionKind.Ram && (kind != RegionKind.Rom || write))
        {
            return null;
        }

        ulong page = physicalAddress & ~PageMask;
        if (page < range.Start || page + PageMask >= range.End)
        {
            return null; // The page is only partly RAM: every access takes the slow path.
        }

        return range.Region.HostMemory + range.OffsetOf(page);
    }

    /// <inheritdoc/>
    public ulong ReadMemory(ulong physicalAddress, int size) => Read(_memory, physicalAddress, size);

    /// <inheritdoc/>
    public void WriteMemory(ulong physicalAddress, int size, ulong value) => Write(_memory, physicalAddress, size, value);

    /// <inheritdoc/>
    public uint ReadPort(ushort port, int size) => (uint)Read(_io, port, size);

    /// <inheritdoc/>
    public void WritePort(ushort port, int size, uint value) => Write(_io, port, size, value);

    /// <summary>A configuration read of PCI function register <paramref name="address"/> (all ones where no function answers).</summary>
    public ulong ReadPciConfig(ulong address, int size) => _pciConfig is { } space ? Read(space, address, size) : AllOnes(size);

    /// <summary>A configuration write (dropped where no function answers).</summary>
    public void WritePciConfig(ulong address, int size, ulong value)
    {
        if (_pciConfig is { } space)
        {
            Write(space, address, size, value);
        }
    }

    private ulong Read(AddressSpace space, ulong address, int size)
    {
        FlatView view = space.View;
        if (!view.TryFind(address, out FlatRange range))
        {
            if (WaitedForDevicesToAttach())
            {
                return Read(space, address, size);
            }

            Interlocked.Increment(ref UnassignedAccesses);
            return AllOnes(size);
        }

        if (address + (ulong)size > range.End)
        {
            return ReadAcross(space, view, address, size);
        }

        MemoryRegion region = range.Region;
        ulong offset = range.OffsetOf(address);
        switch (region.Kind)
        {
            case RegionKind.Ram:
            case RegionKind.Rom:
                return ReadHost(region.HostMemory + offset, size);
            default:
                if ((region.AccessSizes & size) == 0)
                {
                    return ReadAdjusted(region, offset, size);
                }

                if (!TryEnter(region))
                {
                    return AllOnes(size);
                }

                try
                {
                    return region.Handler!.Read(offset, size) & AllOnes(size);
                }
                finally
                {
                    Leave(region);
                }
        }
    }

    private void Write(AddressSpace space, ulong address, int size, ulong value)
    {
        FlatView view = space.View;
        if (!view.TryFind(address, out FlatRange range))
        {
            if (WaitedForDevicesToAttach())
            {
                Write(space, address, size, value);
                return;
            }

            Interlocked.Increment(ref UnassignedAccesses);
            return;
        }

        if (address + (ulong)size > range.End)
        {
            WriteAcross(space, view, address, size, value);
            return;
        }

        MemoryRegion region = range.Region;
        ulong offset = range.OffsetOf(address);
        switch (region.Kind)
        {
            case RegionKind.Ram:
                WriteHost(region.HostMemory + offset, size, value);
                return;
            case RegionKind.Rom:
                return;
            default:
                if ((region.AccessSizes & size) == 0)
                {
                    WriteAdjusted(region, offset, size, value);
                    return;
                }

                if (!TryEnter(region))
                {
                    return;
                }

                try
                {
                    region.Handler!.Write(offset, size, value & AllOnes(size));
                }
                finally
                {
                    Leave(region);
                }

                return;
        }
    }

    /// <summary>
    /// The guest runs before every device process has attached, and a device's regions are known only once it has
    /// (it declares them). So an address no region claims yet may be one that a device still attaching will claim:
    /// the access waits for them, as an access to a restarting device waits, and is looked up again. Once they are
    /// all attached this is one read of a field.
    /// </summary>
    private bool WaitedForDevicesToAttach() => StartGate?.Wait() == true;

    /// <summary>Accesses refused because they would re-enter a device that is handling an access on this thread.</summary>
    public long ReentryRefusals;

    /// <summary>Takes the region's lease for this access; false when the access must end as a bus error.</summary>
    private bool TryEnter(MemoryRegion region)
    {
        if (AccessContext.InAccess && region.Owner is { } owner && AccessContext.HoldsRegionOf(owner))
        {
            // The device would be re-entered (e.g. its own DMA into its own registers): refuse, never deadlock.
            Interlocked.Increment(ref ReentryRefusals);
            return false;
        }

        if (!region.Lease.TryAcquire())
        {
            // Closing began after the view we used was published: the region is gone for new accesses.
            return false;
        }

        AccessContext.Enter(region);
        return true;
    }

    /// <summary>Releases the lease, then runs map changes the handler asked for (before the next instruction).</summary>
    private static void Leave(MemoryRegion region)
    {
        region.Lease.Release();
        AccessContext.Exit();
    }

    /// <summary>
    /// An access that runs past the end of the range it starts in: each range it covers gets its own part (a
    /// device region one access of the part's length, adjusted to its sizes), gaps with no region one byte each.
    /// Parts go in address order; a read assembles them little-endian.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadAcross(AddressSpace space, FlatView view, ulong address, int size)
    {
        ulong value = 0;
        for (int done = 0; done < size;)
        {
            ulong at = address + (ulong)done;
            int length = PartLength(view, at, size - done, out FlatRange range);
            ulong part = length == 0
                ? Read(space, at, length = 1)
                : ReadPart(range.Region, range.OffsetOf(at), length);
            value |= part << (8 * done);
            done += length;
        }

        return value;
    }

    /// <inheritdoc cref="ReadAcross"/>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteAcross(AddressSpace space, FlatView view, ulong address, int size, ulong value)
    {
        for (int done = 0; done < size;)
        {
            ulong at = address + (ulong)done;
            int length = PartLength(view, at, size - done, out FlatRange range);
            ulong part = (value >> (8 * done)) & AllOnes(Math.Max(length, 1));
            if (length == 0)
            {
                Write(space, at, length = 1, part);
            }
            else
            {
                WritePart(range.Region, range.OffsetOf(at), length, part);
            }

            done += length;
        }
    }

    /// <summary>How many of the <paramref name="remaining"/> bytes from <paramref name="at"/> lie in the range there (0: none does).</summary>
    private static int PartLength(FlatView view, ulong at, int remaining, out FlatRange range) =>
        view.TryFind(at, out range) ? (int)Math.Min((ulong)remaining, range.End - at) : 0;

    /// <summary>Reads <paramref name="length"/> (1 to 8, any) bytes of one range's region.</summary>
    private ulong ReadPart(MemoryRegion region, ulong offset, int length)
    {
        switch (region.Kind)
        {
            case RegionKind.Ram:
            case RegionKind.Rom:
                ulong value = 0;
                for (int i = 0; i < length; i++)
                {
                    value |= (ulong)region.HostMemory[offset + (ulong)i] << (8 * i);
                }

                return value;
            default:
                return ReadAdjusted(region, offset, length);
        }
    }

    /// <summary>Writes <paramref name="length"/> (1 to 8, any) bytes of one range's region.</summary>
    private void WritePart(MemoryRegion region, ulong offset, int length, ulong value)
    {
        switch (region.Kind)
        {
            case RegionKind.Ram:
                for (int i = 0; i < length; i++)
                {
                    region.HostMemory[offset + (ulong)i] = (byte)(value >> (8 * i));
                }

                return;
            case RegionKind.Rom:
                return;
            default:
                WriteAdjusted(region, offset, length, value);
                return;
        }
    }

    /// <summary>
    /// Reads <paramref name="size"/> bytes (1 to 8, any) at <paramref name="offset"/> of a device region in the sizes
    /// it takes, under one lease: an accepted size goes as it is; otherwise the bytes are covered in address order by
    /// naturally aligned parts, each the largest power of two up to the region's maximum that fits; a part narrower
    /// than the minimum becomes one read of the aligned minimum-sized unit holding it, of which only its bytes are kept.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadAdjusted(MemoryRegion region, ulong offset, int size)
    {
        if (!TryEnter(region))
        {
            return AllOnes(size);
        }

        try
        {
            IRegionHandler handler = region.Handler!;
            if (IsAccepted(region, size))
            {
                return handler.Read(offset, size) & AllOnes(size);
            }

            ulong value = 0;
            ulong end = offset + (ulong)size;
            for (ulong at = offset; at < end;)
            {
                int shift = 8 * (int)(at - offset);
                int part = AlignedPart(region, at, end);
                if (part >= region.MinAccessSize)
                {
                    value |= (handler.Read(at, part) & AllOnes(part)) << shift;
                    at += (ulong)part;
                    continue;
                }

                int unit = region.MinAccessSize;
                ulong unitStart = at & ~(ulong)(unit - 1);
                ulong stop = Math.Min(end, unitStart + (ulong)unit);
                ulong unitValue = handler.Read(unitStart, unit) & AllOnes(unit);
                value |= ((unitValue >> (8 * (int)(at - unitStart))) & AllOnes((int)(stop - at))) << shift;
                at = stop;
            }

            return value;
        }
        finally
        {
            Leave(region);
        }
    }

    /// <summary>
    /// Writes like <see cref="ReadAdjusted"/> reads. A unit widened to the minimum carries the guest's bytes in
    /// place and zeros in the others: no read-modify-write (reads have side effects, and a write of the neighbour's
    /// old value would clear its write-1-to-clear bits).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteAdjusted(MemoryRegion region, ulong offset, int size, ulong value)
    {
        if (!TryEnter(region))
        {
            return;
        }

        try
        {
            IRegionHandler handler = region.Handler!;
            if (IsAccepted(region, size))
            {
                handler.Write(offset, size, value & AllOnes(size));
                return;
            }

            ulong end = offset + (ulong)size;
            for (ulong at = offset; at < end;)
            {
                ulong bytes = value >> (8 * (int)(at - offset));
                int part = AlignedPart(region, at, end);
                if (part >= region.MinAccessSize)
                {
                    handler.Write(at, part, bytes & AllOnes(part));
                    at += (ulong)part;
                    continue;
                }

                int unit = region.MinAccessSize;
                ulong unitStart = at & ~(ulong)(unit - 1);
                ulong stop = Math.Min(end, unitStart + (ulong)unit);
                handler.Write(unitStart, unit, (bytes & AllOnes((int)(stop - at))) << (8 * (int)(at - unitStart)));
                at = stop;
            }
        }
        finally
        {
            Leave(region);
        }
    }

    /// <summary>Whether <paramref name="size"/> is one of the sizes <paramref name="region"/> takes as it comes.</summary>
    private static bool IsAccepted(MemoryRegion region, int size) => (size & (size - 1)) == 0 && (region.AccessSizes & size) != 0;

    /// <summary>The largest power of two up to the region's maximum that is aligned at <paramref name="at"/> and ends by <paramref name="end"/>.</summary>
    private static int AlignedPart(MemoryRegion region, ulong at, ulong end)
    {
        int part = region.MaxAccessSize;
        while (part > 1 && ((at & (ulong)(part - 1)) != 0 || at + (ulong)part > end))
        {
            part >>= 1;
        }

        return part;
    }

    private static ulong ReadHost(byte* at, int size) => size switch
    {
        1 => *at,
        2 => Unsafe.ReadUnaligned<ushort>(at),
        4 => Unsafe.ReadUnaligned<uint>(at),
        _ => Unsafe.ReadUnaligned<ulong>(at),
    };

    private static void WriteHost(byte* at, int size, ulong value)
    {
        switch (size)
        {
            case 1: *at = (byte)value; break;
            case 2: Unsafe.WriteUnaligned(at, (ushort)value); break;
            case 4: Unsafe.WriteUnaligned(at, (uint)value); break;
            default: Unsafe.WriteUnaligned(at, value); break;
        }
    }

    /// <summary>All ones of <paramref name="size"/> bytes: what a read from nothing returns.</summary>
    public static ulong AllOnes(int size) => size >= 8 ? ulong.MaxValue : (1UL << (8 * size)) - 1;
}
