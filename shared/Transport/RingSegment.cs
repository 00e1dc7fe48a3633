using System.Diagnostics;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// A device process's shared-memory segment with its three rings. The CPU process creates it
/// (<see cref="Create"/>); the device process maps the descriptor it is passed (<see cref="Open"/>). Each side keeps its own
/// private copy of the geometry: the CPU never trusts sizes read back from the segment.
/// </summary>
public sealed unsafe class RingSegment : IDisposable
{
    private RingSegment(SharedMemorySegment memory, RingGeometry geometry, uint epoch)
    {
        Memory = memory;
        Geometry = geometry;
        Epoch = epoch;
    }

    /// <summary>The mapping.</summary>
    public SharedMemorySegment Memory { get; }

    /// <summary>Ring capacities (this side's copy).</summary>
    public RingGeometry Geometry { get; }

    /// <summary>Incarnation number of the channel this segment belongs to.</summary>
    public uint Epoch { get; }

    /// <summary>Pointer to a word at <paramref name="offset"/>.</summary>
    public byte* At(long offset) => Memory.Base + offset;

    /// <summary>Process id the device wrote once it mapped the segment, or 0. Untrusted: for reports only.</summary>
    public int DevicePid => Volatile.Read(ref *(int*)At(SegmentLayout.DevicePidOffset));

    /// <summary>
    /// CPU side: creates and initialises a segment in sealed shared memory (see <see cref="SharedMemorySegment.Create"/>):
    /// a device process can neither resize it under the CPU process nor is there a name another user could read
    /// or take first. The device maps the descriptor it is passed (<see cref="SharedMemorySegment.Descriptor"/>).
    /// </summary>
    public static RingSegment Create(string name, RingGeometry geometry, uint epoch) =>
        Initialise(SharedMemorySegment.Create(name, SegmentLayout.SegmentSize(CheckGeometry(geometry))), geometry, epoch);

    private static RingGeometry CheckGeometry(RingGeometry geometry) => geometry.IsValid
        ? geometry
        : throw new ArgumentOutOfRangeException(nameof(geometry), geometry, "ring sizes must be powers of two between 2 and 65536");

    /// <summary>Writes the header; the magic word last.</summary>
    private static RingSegment Initialise(SharedMemorySegment memory, RingGeometry geometry, uint epoch)
    {
        byte* header = memory.Base;
        *(uint*)(header + SegmentLayout.VersionOffset) = SegmentLayout.Version;
        *(uint*)(header + SegmentLayout.EpochOffset) = epoch;
        *(int*)(header + SegmentLayout.RequestSlotsOffset) = geometry.RequestSlots;
        *(int*)(header + SegmentLayout.ReplySlotsOffset) = geometry.ReplySlots;
        *(int*)(header + SegmentLayout.EventSlotsOffset) = geometry.EventSlots;
        *(int*)(header + SegmentLayout.CreatorPidOffset) = Environment.ProcessId;
        // Release: everything above is visible before the magic. Pairs with the Volatile.Read in Open.
        Volatile.Write(ref *(ulong*)(header + SegmentLayout.MagicOffset), SegmentLayout.Magic);
        return new RingSegment(memory, geometry, epoch);
    }

    /// <summary>Device side: maps a segment, waits (bounded) for its magic, checks version and sizes.</summary>
    public static RingSegment Open(int fd, TimeSpan magicTimeout)
    {
        SharedMemorySegment memory = SharedMemorySegment.Open(fd, SegmentLayout.SlotsOffset);
        try
        {
            byte* header = memory.Base;
            Stopwatch waited = Stopwatch.StartNew();
            while (Volatile.Read(ref *(ulong*)(header + SegmentLayout.MagicOffset)) != SegmentLayout.Magic)
            {
                if (waited.Elapsed > magicTimeout)
                {
                    throw new InvalidDataException($"the segment was not initialised within {magicTimeout.TotalMilliseconds} ms");
                }

                Thread.Sleep(1);
            }

            uint version = *(uint*)(header + SegmentLayout.VersionOffset);
            if (version != SegmentLayout.Version)
            {
                throw new InvalidDataException($"the segment has layout version {version}, this build speaks {SegmentLayout.Version}");
            }

            RingGeometry geometry = new(
                *(int*)(header + SegmentLayout.RequestSlotsOffset),
                *(int*)(header + SegmentLayout.ReplySlotsOffset),
                *(int*)(header + SegmentLayout.EventSlotsOffset));
            if (!geometry.IsValid || SegmentLayout.SegmentSize(geometry) > memory.Size)
            {
                throw new InvalidDataException($"the segment has an invalid ring geometry {geometry}");
            }

            uint epoch = *(uint*)(header + SegmentLayout.EpochOffset);
            *(int*)(header + SegmentLayout.DevicePidOffset) = Environment.ProcessId;
            return new RingSegment(memory, geometry, epoch);
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    /// <summary>The request ring's slots.</summary>
    public RingSlot* RequestSlots => (RingSlot*)At(SegmentLayout.RequestSlots(Geometry));

    /// <summary>The reply ring's slots.</summary>
    public RingSlot* ReplySlots => (RingSlot*)At(SegmentLayout.ReplySlots(Geometry));

    /// <summary>The state area, where device snapshots cross (<see cref="SegmentLayout.StateAreaSize"/> bytes).</summary>
    public Span<byte> StateArea => new(At(SegmentLayout.StateArea(Geometry)), SegmentLayout.StateAreaSize);

    /// <summary>The event ring's slots.</summary>
    public RingSlot* EventSlots => (RingSlot*)At(SegmentLayout.EventSlots(Geometry));

    /// <inheritdoc/>
    public void Dispose() => Memory.Dispose();
}
