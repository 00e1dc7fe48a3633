using System.Runtime.CompilerServices;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Memory;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// Dispatch of the CPU's accesses: look the address up in the current flat view, take a lease on the region,
/// call its handler, release the lease. RAM and ROM are served from host memory. Addresses with no region read
/// as all ones and ignore writes. An access that straddles two ranges is split into bytes.
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
    public ulong ReadMemory(ulong physicalAddress, int size) => Read(_memory.View, physicalAddress, size);

    /// <inheritdoc/>
    public void WriteMemory(ulong physicalAddress, int size, ulong value) => Write(_memory.View, physicalAddress, size, value);

    /// <inheritdoc/>
    public uint ReadPort(ushort port, int size) => (uint)Read(_io.View, port, size);

    /// <inheritdoc/>
    public void WritePort(ushort port, int size, uint value) => Write(_io.View, port, size, value);

    /// <summary>A configuration read of PCI function register <paramref name="address"/> (all ones where no function answers).</summary>
    public ulong ReadPciConfig(ulong address, int size) => _pciConfig is { } space ? Read(space.View, address, size) : AllOnes(size);

    /// <summary>A configuration write (dropped where no function answers).</summary>
    public void WritePciConfig(ulong address, int size, ulong value)
    {
        if (_pciConfig is { } space)
        {
            Write(space.View, address, size, value);
        }
    }

    private ulong Read(FlatView view, ulong address, int size)
    {
        if (!view.TryFind(address, out FlatRange range))
        {
            Interlocked.Increment(ref UnassignedAccesses);
            return AllOnes(size);
        }

        if (address + (ulong)size > range.End)
        {
            return ReadSplit(view, address, size);
        }

        MemoryRegion region = range.Region;
        ulong offset = range.OffsetOf(address);
        switch (region.Kind)
        {
            case RegionKind.Ram:
            case RegionKind.Rom:
                return ReadHost(region.HostMemory + offset, size);
            default:
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

    private void Write(FlatView view, ulong address, int size, ulong value)
    {
        if (!view.TryFind(address, out FlatRange range))
        {
            Interlocked.Increment(ref UnassignedAccesses);
            return;
        }

        if (address + (ulong)size > range.End)
        {
            WriteSplit(view, address, size, value);
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

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadSplit(FlatView view, ulong address, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            value |= Read(view, address + (ulong)i, 1) << (8 * i);
        }

        return value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSplit(FlatView view, ulong address, int size, ulong value)
    {
        for (int i = 0; i < size; i++)
        {
            Write(view, address + (ulong)i, 1, (value >> (8 * i)) & 0xFF);
        }
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
