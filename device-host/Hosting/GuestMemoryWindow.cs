using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// A device process's view of guest RAM for DMA: the shared guest memory, restricted to the windows the CPU
/// process granted. Every address and length a device supplies is checked against them (overflow included)
/// before a byte moves, so a wild DMA address fails the transfer instead of touching anything else.
/// </summary>
public sealed unsafe class GuestMemoryWindow : IDisposable
{
    private readonly SharedGuestMemory _memory;
    private readonly IReadOnlyList<DmaWindow> _windows;

    /// <summary>Maps <paramref name="sharePath"/> and allows DMA within <paramref name="windows"/>.</summary>
    public GuestMemoryWindow(string sharePath, ulong size, IReadOnlyList<DmaWindow> windows)
    {
        _memory = SharedGuestMemory.Open(sharePath, size);
        _windows = windows;
    }

    /// <summary>Copies guest memory at <paramref name="address"/> into <paramref name="destination"/>, if all of it is granted.</summary>
    public bool TryRead(ulong address, Span<byte> destination)
    {
        if (!Allowed(address, (ulong)destination.Length))
        {
            return false;
        }

        new ReadOnlySpan<byte>(_memory.Base + address, destination.Length).CopyTo(destination);
        return true;
    }

    /// <summary>Copies <paramref name="source"/> to guest memory at <paramref name="address"/>, if all of it is granted.</summary>
    public bool TryWrite(ulong address, ReadOnlySpan<byte> source)
    {
        if (!Allowed(address, (ulong)source.Length))
        {
            return false;
        }

        source.CopyTo(new Span<byte>(_memory.Base + address, source.Length));
        return true;
    }

    /// <inheritdoc/>
    public void Dispose() => _memory.Dispose();

    private bool Allowed(ulong address, ulong length) => DmaWindows.Allow(_windows, _memory.Size, address, length);
}
