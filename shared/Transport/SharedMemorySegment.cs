using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// Shared memory mapped read-write into this process: either an anonymous sealed memfd
/// (<see cref="CreateSealed"/>, what machines use) or a file under /dev/shm (<see cref="Create"/>, benchmarks
/// and tests). The creator sizes and zero-fills it; either side may <see cref="Unlink"/> it once both have it
/// mapped, after which no other process can open it and no crash can leak it.
/// </summary>
public sealed unsafe class SharedMemorySegment : IDisposable
{
    /// <summary>Folder of shared-memory files on Linux.</summary>
    public const string ShmFolder = "/dev/shm";

    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor? _view;

    /// <summary>The sealed memory when this segment was made by <see cref="CreateSealed"/>; null for files.</summary>
    private readonly SealedSharedMemory? _sealed;
    private byte* _base;
    private int _unlinked;

    private SharedMemorySegment(string path, MemoryMappedFile file, long size)
    {
        Path = path;
        Size = size;
        _file = file;
        _view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
        // SAFETY: the pointer stays valid until Dispose releases it; every user of Base holds the segment.
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref _base);
        _base += _view.PointerOffset;
    }

    private SharedMemorySegment(SealedSharedMemory memory)
    {
        _sealed = memory;
        Path = memory.SharePath;
        Size = (long)memory.Size;
        _base = memory.Base;
    }

    /// <summary>The file's path (it may have been unlinked since).</summary>
    public string Path { get; }

    /// <summary>Mapped size in bytes.</summary>
    public long Size { get; }

    /// <summary>First byte of the mapping.</summary>
    public byte* Base => _base;

    /// <summary>Creates a new zero-filled file of <paramref name="size"/> bytes and maps it. Fails if it exists.</summary>
    public static SharedMemorySegment Create(string path, long size)
    {
        using (FileStream stream = new(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            stream.SetLength(size);
        }

        try
        {
            MemoryMappedFile file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, size, MemoryMappedFileAccess.ReadWrite);
            return new SharedMemorySegment(path, file, size);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// Creates <paramref name="size"/> bytes of zero-filled anonymous shared memory (a memfd called
    /// <paramref name="name"/>, visible in /proc maps only) and maps it. Its pages are allocated now, so a full
    /// memory is an error here rather than a SIGBUS on a later touch, and its size is sealed, so no process that
    /// opens it (a hostile device) can shrink it under this one. Another process of this user maps it through
    /// <see cref="Path"/> (<c>/proc/PID/fd/N</c>) until <see cref="Unlink"/>; there is never a file name that
    /// another user could read, guess or create first.
    /// </summary>
    /// <exception cref="IOException">The memory could not be created, allocated or sealed.</exception>
    public static SharedMemorySegment CreateSealed(string name, long size) =>
        new(SealedSharedMemory.Create(name, (ulong)size, allocateNow: true));

    /// <summary>Maps an existing file; its size must be at least <paramref name="minimumSize"/>.</summary>
    public static SharedMemorySegment Open(string path, long minimumSize)
    {
        // fstat of the open descriptor: a /proc/PID/fd path is a link whose own size says nothing.
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        long size = RandomAccess.GetLength(handle);
        if (size < minimumSize)
        {
            throw new InvalidDataException($"shared-memory file {path} has {size} bytes, expected at least {minimumSize}");
        }

        MemoryMappedFile file = MemoryMappedFile.CreateFromFile(handle, null, size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        return new SharedMemorySegment(path, file, size);
    }

    /// <summary>Removes the file name; the mappings stay valid. Safe to call more than once and from both sides.</summary>
    public void Unlink()
    {
        if (Interlocked.Exchange(ref _unlinked, 1) == 0)
        {
            if (_sealed is not null)
            {
                _sealed.CloseShare(); // the /proc path ends with the descriptor; the mappings keep the memory
                return;
            }

            try
            {
                File.Delete(Path);
            }
            catch (IOException)
            {
                // The other side removed it first.
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_sealed is not null)
        {
            _base = null;
            _sealed.Dispose();
            return;
        }

        if (_base != null)
        {
            _base = null;
            _view!.SafeMemoryMappedViewHandle.ReleasePointer();
        }

        _view?.Dispose();
        _file?.Dispose();
    }
}
