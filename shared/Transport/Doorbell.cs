namespace SplitEmu.Shared.Transport;

/// <summary>
/// The sleep/wake handshake on one futex word in the segment. The consumer announces that it will sleep,
/// re-checks its ring, and only then sleeps; the producer publishes, then rings, which costs a system call
/// only when the consumer announced sleep. Both sides use a full fence between their store and their load
/// (store-load ordering, as in Dekker's algorithm): without it wake-ups are lost (notes/transport.md).
/// </summary>
public readonly unsafe struct Doorbell
{
    private readonly int* _sleeping;

    /// <summary>Wraps the futex word at <paramref name="word"/>.</summary>
    public Doorbell(int* word) => _sleeping = word;

    /// <summary>Consumer: announce sleep. The caller must re-check its ring after this and before <see cref="Sleep"/>.</summary>
    public void Announce()
    {
        Volatile.Write(ref *_sleeping, 1);
        // Pairs with the fence in Ring: either the producer sees our 1, or our re-check sees its message.
        Interlocked.MemoryBarrier();
    }

    /// <summary>Consumer: sleep until rung, or at most <paramref name="timeoutMicroseconds"/>.</summary>
    public void Sleep(long timeoutMicroseconds) => Futex.Wait(_sleeping, 1, timeoutMicroseconds);

    /// <summary>Consumer: no longer sleeping (after a wake-up or when the re-check found work).</summary>
    public void Retract() => Volatile.Write(ref *_sleeping, 0);

    /// <summary>Producer: after publishing, wake the consumer if it announced sleep.</summary>
    public void Ring()
    {
        // Pairs with the fence in Announce (see there).
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref *_sleeping) != 0)
        {
            Volatile.Write(ref *_sleeping, 0);
            Futex.Wake(_sleeping);
        }
    }

    /// <summary>Wake the consumer unconditionally (the peer died, or the machine stops).</summary>
    public void Kick()
    {
        Volatile.Write(ref *_sleeping, 0);
        Futex.Wake(_sleeping);
    }
}
