using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// Shared memory whose size can never change: an anonymous memfd sealed against shrinking and growing, mapped
/// into the CPU process and passed to device processes as a descriptor (<see cref="SplitEmu.Shared.Rpc.DescriptorChannel"/>),
/// never opened by name. Guest RAM (for DMA) and the device rings are made of it. No file name exists at any time, so no crash of any
/// process can leave one behind and no other user can find or pre-create it; the memory lives until the last
/// process mapping it exits.
/// </summary>
public sealed unsafe partial class SealedSharedMemory : IDisposable
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapShared = 1;
    private const uint MfdCloexec = 1;
    private const uint MfdAllowSealing = 2;
    private const int FcntlAddSeals = 1033;
    private const int FcntlGetSeals = 1034;
    private const int FcntlDuplicateCloexec = 1030;
    private const int SealSeal = 1;
    private const int SealShrink = 2;
    private const int SealGrow = 4;

    /// <summary>The size can never change again: a device process that opened the memory cannot shrink it under the
    /// CPU process (whose next access beyond the end would be a SIGBUS no runtime can catch).</summary>
    private const int SizeSeals = SealShrink | SealGrow | SealSeal;

    private byte* _base;
    private int _fd;

    private SealedSharedMemory(int fd, byte* memory, ulong size)
    {
        _fd = fd;
        _base = memory;
        Size = size;
    }

    /// <summary>Bytes mapped.</summary>
    public ulong Size { get; }

    /// <summary>First byte.</summary>
    public byte* Base => _base;

    /// <summary>The memfd another process maps the same memory from (passed by SCM_RIGHTS), or -1 once closed.</summary>
    public int Descriptor => Volatile.Read(ref _fd);

    /// <summary>
    /// Creates <paramref name="size"/> bytes of zero-filled shared memory named <paramref name="name"/> (for /proc
    /// maps). With <paramref name="allocateNow"/> every page is allocated here, so a full memory is this call's
    /// error rather than a SIGBUS on some later first touch (rings; guest RAM stays lazy, it may be large).
    /// </summary>
    public static SealedSharedMemory Create(string name, ulong size, bool allocateNow = false)
    {
        int fd = MemfdCreate(name, MfdCloexec | MfdAllowSealing);
        if (fd < 0)
        {
            throw new IOException($"memfd_create failed: errno {Marshal.GetLastPInvokeError()}");
        }

        if (Ftruncate(fd, (long)size) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Close(fd);
            throw new IOException($"cannot size {name} to {size} bytes: errno {errno}");
        }

        if (allocateNow)
        {
            int error = PosixFallocate(fd, 0, (long)size); // returns the error number itself
            if (error != 0)
            {
                Close(fd);
                throw new IOException($"cannot allocate {size} bytes of shared memory for {name}: errno {error} (is memory full?)");
            }
        }

        if (Fcntl(fd, FcntlAddSeals, SizeSeals) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Close(fd);
            throw new IOException($"cannot seal the size of {name}: errno {errno}");
        }

        return Map(fd, size);
    }

    /// <summary>
    /// A new descriptor (close-on-exec) for the same memory, for a peer in this process to <see cref="Open(int, ulong)"/>
    /// (a spare's warm-up, tests); what another process gets by SCM_RIGHTS.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The descriptor was closed already.</exception>
    public int DuplicateDescriptor()
    {
        int fd = Volatile.Read(ref _fd);
        ObjectDisposedException.ThrowIf(fd < 0, this);
        int copy = Fcntl(fd, FcntlDuplicateCloexec, 0);
        if (copy < 0)
        {
            throw new IOException($"cannot duplicate a shared-memory descriptor: errno {Marshal.GetLastPInvokeError()}");
        }

        return copy;
    }

    /// <summary>Tries to change the size through this mapping's descriptor (tests: the seals must refuse it).</summary>
    public bool TryResize(ulong size) => _fd >= 0 && Ftruncate(_fd, (long)size) == 0;

    /// <summary>
    /// Closes <see cref="Descriptor"/>, so this process can pass the memory to no one from now on; every mapping
    /// (this one and the peers') stays.
    /// </summary>
    public void CloseShare()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Close(fd);
        }
    }

    /// <summary>
    /// Maps all of the memory behind <paramref name="fd"/> (received from another process, owned by the result from
    /// here, closed on failure); it must be sealed against resizing and hold at least <paramref name="size"/> bytes.
    /// </summary>
    public static SealedSharedMemory Open(int fd, ulong size)
    {
        int seals = Fcntl(fd, FcntlGetSeals, 0);
        if (seals < 0 || (seals & SizeSeals) != SizeSeals)
        {
            Close(fd);
            throw new InvalidDataException("shared memory passed to this process is not sealed against resizing; refusing to map it");
        }

        long actual = Lseek(fd, 0, 2);
        if (actual < 0 || (ulong)actual < size)
        {
            Close(fd);
            throw new InvalidDataException($"shared memory passed to this process has {actual} bytes, expected at least {size}");
        }

        return Map(fd, (ulong)actual);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_base != null)
        {
            Munmap(_base, (nuint)Size);
            _base = null;
        }

        CloseShare();
    }

    private static SealedSharedMemory Map(int fd, ulong size)
    {
        void* memory = Mmap(null, (nuint)size, ProtRead | ProtWrite, MapShared, fd, 0);
        if (memory == (void*)-1)
        {
            int errno = Marshal.GetLastPInvokeError();
            Close(fd);
            throw new IOException($"cannot map {size} bytes of shared memory: errno {errno}");
        }

        return new SealedSharedMemory(fd, (byte*)memory, size);
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "posix_fallocate")]
    private static partial int PosixFallocate(int fd, long offset, long length);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
