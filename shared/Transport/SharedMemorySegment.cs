using System.IO.MemoryMappedFiles;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// A file under /dev/shm mapped read-write into this process. The creator sizes and zero-fills it; either side
/// may <see cref="Unlink"/> the file once both have it mapped, after which no crash can leak it.
/// </summary>
public sealed unsafe class SharedMemorySegment : IDisposable
{
    /// <summary>Folder of shared-memory files on Linux.</summary>
    public const string ShmFolder = "/dev/shm";

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
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

    /// <summary>Maps an existing file; its size must be at least <paramref name="minimumSize"/>.</summary>
    public static SharedMemorySegment Open(string path, long minimumSize)
    {
        long size = new FileInfo(path).Length;
        if (size < minimumSize)
        {
            throw new InvalidDataException($"shared-memory file {path} has {size} bytes, expected at least {minimumSize}");
        }

        MemoryMappedFile file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, size, MemoryMappedFileAccess.ReadWrite);
        return new SharedMemorySegment(path, file, size);
    }

    /// <summary>Removes the file name; the mappings stay valid. Safe to call more than once and from both sides.</summary>
    public void Unlink()
    {
        if (Interlocked.Exchange(ref _unlinked, 1) == 0)
        {
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
        if (_base != null)
        {
            _base = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }

        _view.Dispose();
        _file.Dispose();
    }
}
