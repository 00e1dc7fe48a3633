namespace SplitEmu.Shared.Transport;

/// <summary>
/// A ring segment's memory: sealed anonymous shared memory (<see cref="SealedSharedMemory"/>, the same kind as
/// guest RAM) mapped into this process. The creator sizes, allocates and zero-fills it and passes
/// <see cref="Descriptor"/> to the peer until it calls <see cref="Unlink"/>; no crash can leak it.
/// </summary>
public sealed unsafe class SharedMemorySegment : IDisposable
{
    private readonly SealedSharedMemory _memory;
    private int _unlinked;

    private SharedMemorySegment(SealedSharedMemory memory) => _memory = memory;

    /// <summary>The memfd the peer maps it from (passed by SCM_RIGHTS); -1 after <see cref="Unlink"/>.</summary>
    public int Descriptor => _memory.Descriptor;

    /// <summary>A new descriptor for the same memory, for a peer in this process (<see cref="SealedSharedMemory.DuplicateDescriptor"/>).</summary>
    public int DuplicateDescriptor() => _memory.DuplicateDescriptor();

    /// <summary>Mapped size in bytes.</summary>
    public long Size => (long)_memory.Size;

    /// <summary>First byte of the mapping.</summary>
    public byte* Base => _memory.Base;

    /// <summary>
    /// Creates <paramref name="size"/> bytes of zero-filled memory named <paramref name="name"/> (visible in /proc
    /// maps only), allocated now so that a full memory is an error here rather than a SIGBUS on a later touch,
    /// and sealed so that no process that opens it (a hostile device) can resize it under this one. There is
    /// never a file name another user could read, guess or create first.
    /// </summary>
    /// <exception cref="IOException">The memory could not be created, allocated or sealed.</exception>
    public static SharedMemorySegment Create(string name, long size) =>
        new(SealedSharedMemory.Create(name, (ulong)size, allocateNow: true));

    /// <summary>Maps the memory another process created and passed as <paramref name="fd"/> (owned from here); it must hold at least <paramref name="minimumSize"/> bytes.</summary>
    /// <exception cref="IOException">It cannot be mapped.</exception>
    /// <exception cref="InvalidDataException">It is smaller than <paramref name="minimumSize"/> or not sealed.</exception>
    public static SharedMemorySegment Open(int fd, long minimumSize) =>
        new(SealedSharedMemory.Open(fd, (ulong)minimumSize));

    /// <summary>Closes <see cref="Descriptor"/> (the creator's); both mappings stay. Idempotent.</summary>
    public void Unlink()
    {
        if (Interlocked.Exchange(ref _unlinked, 1) == 0)
        {
            _memory.CloseShare();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _memory.Dispose();
}
