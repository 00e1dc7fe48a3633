using System.Runtime.CompilerServices;

namespace SplitEmu.Shared.Timing;

/// <summary>
/// The machine clock's state as one writer publishes it to readers in other processes: how far the machine
/// clock is behind the host's (the time it stood still so far) and the host time from which it stands still (it
/// stopped then, or will hold there unless the writer moves that on first). A sequence word makes each read consistent without a lock or a syscall (a seqlock: odd
/// while a write is in progress). The words live in the CPU process's memory and in block 8 of every ring
/// segment (<see cref="Transport.SegmentLayout.MachineClockOffset"/>).
/// </summary>
public static unsafe class MachineClockArea
{
    /// <summary>Bytes the area takes.</summary>
    public const int Size = 24;

    private const int SequenceOffset = 0, BehindOffset = 8, HoldAtOffset = 16;

    /// <summary>
    /// Starts a write (one writer at a time: the caller serialises): readers retry until <see cref="EndWrite"/>.
    /// A writer that samples the host clock for the new state samples it after this, so no reader can have
    /// returned a later time from the old state (the clock never goes back).
    /// </summary>
    public static void BeginWrite(byte* area) =>
        Interlocked.Increment(ref *(uint*)(area + SequenceOffset)); // odd; a full fence, so the words land after it

    /// <summary>Ends a write begun by <see cref="BeginWrite"/> with the new state.</summary>
    /// <param name="area">The area.</param>
    /// <param name="behindNanoseconds">How far the machine clock is behind the host clock.</param>
    /// <param name="holdAtHostNanoseconds">Host time from which the clock stands still (past: it has stopped;
    /// future: it will hold there); 0 while it runs freely.</param>
    public static void EndWrite(byte* area, long behindNanoseconds, long holdAtHostNanoseconds)
    {
        Volatile.Write(ref *(long*)(area + BehindOffset), behindNanoseconds);
        Volatile.Write(ref *(long*)(area + HoldAtOffset), holdAtHostNanoseconds);
        ref uint sequence = ref *(uint*)(area + SequenceOffset);
        Volatile.Write(ref sequence, sequence + 1); // even again: the state is whole
    }

    /// <summary>The machine clock's time now, read from <paramref name="area"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Now(byte* area)
    {
        ref uint sequence = ref *(uint*)(area + SequenceOffset);
        while (true)
        {
            uint before = Volatile.Read(ref sequence);
            long behind = Volatile.Read(ref *(long*)(area + BehindOffset));
            long holdAt = Volatile.Read(ref *(long*)(area + HoldAtOffset));
            long host = HostClock.NowNanoseconds;
            if (holdAt != 0 && holdAt < host)
            {
                host = holdAt;
            }

            if ((before & 1) == 0 && Volatile.Read(ref sequence) == before)
            {
                return host - behind;
            }

            Thread.SpinWait(1); // a write is in progress: it takes a few nanoseconds
        }
    }
}
