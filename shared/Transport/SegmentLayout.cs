using System.Runtime.CompilerServices;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// Byte layout of a device process's shared-memory segment. Every word that both sides touch sits alone in
/// its own 128-byte block (two cache lines, against the adjacent-line prefetcher), then come the slot arrays.
/// See docs/ring-protocol.md.
/// </summary>
/// <remarks>
/// <code>
/// block 0  header: magic (written last), version, epoch, slot counts, creator pid
/// block 1  device pid: written by the device once it has the segment mapped
/// block 2  request ring: consumed position (device writes, CPU reads when the ring looks full)
/// block 3  request doorbell: device sleeping word (futex)
/// block 4  reply ring: consumed position (CPU writes)
/// block 5  reply doorbell: CPU sleeping word
/// block 6  event ring: consumed position (CPU writes)
/// block 7  event doorbell: CPU event pump sleeping word
/// block 8  machine clock: the CPU process publishes it, the device reads it (Timing/MachineClockArea)
/// block 9+ request slots, reply slots, event slots (64 bytes each)
/// then     the state area: device state travels here for SaveState/RestoreState (one at a time)
/// </code>
/// </remarks>
public static class SegmentLayout
{
    /// <summary>"SPLITEMU" in little-endian ASCII: written last by the creator, so a reader that sees it sees the header.</summary>
    public const ulong Magic = 0x554D_4554_494C_5053;

    /// <summary>Layout version; bump on any change of this file.</summary>
    public const uint Version = 3;

    /// <summary>Bytes of the state area: the largest device snapshot that can cross the segment.</summary>
    public const int StateAreaSize = 64 * 1024;

    /// <summary>Bytes per shared-word block.</summary>
    public const int BlockSize = 128;

    /// <summary>Header offsets within block 0.</summary>
    public const int MagicOffset = 0, VersionOffset = 8, EpochOffset = 12, RequestSlotsOffset = 16,
        ReplySlotsOffset = 20, EventSlotsOffset = 24, CreatorPidOffset = 28;

    /// <summary>Offsets of the shared words.</summary>
    public const int DevicePidOffset = 1 * BlockSize,
        RequestConsumedOffset = 2 * BlockSize, RequestDoorbellOffset = 3 * BlockSize,
        ReplyConsumedOffset = 4 * BlockSize, ReplyDoorbellOffset = 5 * BlockSize,
        EventConsumedOffset = 6 * BlockSize, EventDoorbellOffset = 7 * BlockSize,
        MachineClockOffset = 8 * BlockSize, SlotsOffset = 9 * BlockSize;

    static SegmentLayout()
    {
        // Compile-time facts checked once: the slot is one cache line, the message fills it after the sequence word.
        System.Diagnostics.Debug.Assert(Unsafe.SizeOf<RingSlot>() == RingSlot.Size, "a ring slot must be exactly one cache line");
        System.Diagnostics.Debug.Assert(Unsafe.SizeOf<RingMessage>() == RingMessage.Size, "a ring message must fill a slot after its sequence word");
    }

    /// <summary>Total segment size for the given ring capacities.</summary>
    public static long SegmentSize(in RingGeometry geometry) => StateArea(geometry) + StateAreaSize;

    /// <summary>Offset of the state area (after the event slots, block-aligned).</summary>
    public static long StateArea(in RingGeometry geometry) =>
        SlotsOffset + (long)(geometry.RequestSlots + geometry.ReplySlots + geometry.EventSlots) * RingSlot.Size;

    /// <summary>Offset of the request slot array.</summary>
    public static long RequestSlots(in RingGeometry geometry) => SlotsOffset;

    /// <summary>Offset of the reply slot array.</summary>
    public static long ReplySlots(in RingGeometry geometry) => SlotsOffset + (long)geometry.RequestSlots * RingSlot.Size;

    /// <summary>Offset of the event slot array.</summary>
    public static long EventSlots(in RingGeometry geometry) =>
        SlotsOffset + (long)(geometry.RequestSlots + geometry.ReplySlots) * RingSlot.Size;
}

/// <summary>Slot counts of the three rings of a segment; each a power of two.</summary>
public readonly record struct RingGeometry(int RequestSlots, int ReplySlots, int EventSlots)
{
    /// <summary>The default: room for posted-write batches of 64 with headroom.</summary>
    public static RingGeometry Default { get; } = new(256, 256, 256);

    /// <summary>Whether every count is a power of two between 2 and 65536.</summary>
    public bool IsValid => IsPowerOfTwo(RequestSlots) && IsPowerOfTwo(ReplySlots) && IsPowerOfTwo(EventSlots);

    private static bool IsPowerOfTwo(int n) => n >= 2 && n <= 65536 && (n & (n - 1)) == 0;
}
