using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Common;

/// <summary>
/// A device's view of guest RAM for DMA, restricted to the windows the CPU process granted: in a device process
/// the shared guest memory it mapped, inline the CPU process's own. Every address and length a device supplies
/// is checked against them (overflow included) before a byte moves, so a wild DMA address fails the transfer
/// instead of touching anything else.
/// </summary>
public sealed unsafe class GuestMemoryWindow : IGuestMemory
{
    /// <summary>The mapping this window made and frees (null when it views memory someone else owns).</summary>
    private readonly SealedSharedMemory? _mapping;
    private readonly byte* _base;
    private readonly ulong _size;
    private readonly IReadOnlyList<DmaWindow> _windows;

    /// <summary>Maps the guest RAM memfd <paramref name="fd"/> (owned from here) and allows DMA within <paramref name="windows"/>.</summary>
    public GuestMemoryWindow(int fd, ulong size, IReadOnlyList<DmaWindow> windows)
    {
        _mapping = SealedSharedMemory.Open(fd, size);
        _base = _mapping.Base;
        _size = size;
        _windows = windows;
    }

    /// <summary>Views <paramref name="size"/> bytes at <paramref name="memory"/>, owned and freed by the caller (inline devices).</summary>
    public GuestMemoryWindow(byte* memory, ulong size, IReadOnlyList<DmaWindow> windows)
    {
        _base = memory;
        _size = size;
        _windows = windows;
    }

    /// <summary>Copies guest memory at <paramref name="address"/> into <paramref name="destination"/>, if all of it is granted.</summary>
    public bool TryRead(ulong address, Span<byte> destination)
    {
        if (!Allowed(address, (ulong)destination.Length))
        {
            return false;
        }

        new ReadOnlySpan<byte>(_base + address, destination.Length).CopyTo(destination);
        return true;
    }

    /// <summary>Copies <paramref name="source"/> to guest memory at <paramref name="address"/>, if all of it is granted.</summary>
    public bool TryWrite(ulong address, ReadOnlySpan<byte> source)
    {
        if (!Allowed(address, (ulong)source.Length))
        {
            return false;
        }

        source.CopyTo(new Span<byte>(_base + address, source.Length));
        return true;
    }

    /// <inheritdoc/>
    public void Dispose() => _mapping?.Dispose();

    private bool Allowed(ulong address, ulong length) => DmaWindows.Allow(_windows, _size, address, length);
}
