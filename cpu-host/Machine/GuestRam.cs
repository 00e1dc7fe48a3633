using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// Guest RAM: zero-filled shared memory owned by the CPU process (DESIGN.md section 2), so device processes
/// can map it for bus-master DMA within the windows this process grants.
/// </summary>
public sealed unsafe class GuestRam : IDisposable
{
    private readonly SealedSharedMemory _memory;

    /// <summary>Allocates <paramref name="size"/> bytes.</summary>
    public GuestRam(ulong size)
    {
        _memory = SealedSharedMemory.Create("splitemu-ram", size);
        Size = size;
    }

    /// <summary>Bytes of RAM.</summary>
    public ulong Size { get; }

    /// <summary>First byte.</summary>
    public byte* Base => _memory.Base;

    /// <summary>The memfd a bus-master device process maps this RAM from (passed by SCM_RIGHTS).</summary>
    public int Descriptor => _memory.Descriptor;

    /// <summary>How a bus-master device process maps this RAM, passed under <paramref name="descriptor"/>: all of it is one DMA window.</summary>
    public GuestMemoryShare Share(ulong descriptor) => new()
    {
        Descriptor = descriptor,
        Size = Size,
        Windows = [new DmaWindow(0, Size)],
    };

    /// <summary>Copies <paramref name="data"/> to guest-physical <paramref name="address"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The data does not fit in RAM there.</exception>
    public void Load(ulong address, ReadOnlySpan<byte> data)
    {
        if (!Contains(address, (ulong)data.Length))
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"{data.Length} bytes at 0x{address:X} do not fit in {Size >> 20} MiB of RAM");
        }

        data.CopyTo(new Span<byte>(Base + address, data.Length));
    }

    /// <summary>Whether <paramref name="length"/> bytes at <paramref name="address"/> lie inside RAM (overflow-safe).</summary>
    private bool Contains(ulong address, ulong length) => address <= Size && length <= Size - address;

    /// <summary>A copy of <paramref name="length"/> bytes at <paramref name="address"/> (tests, monitor).</summary>
    public byte[] Read(ulong address, int length) => new ReadOnlySpan<byte>(Base + address, length).ToArray();

    /// <inheritdoc/>
    public void Dispose() => _memory.Dispose();
}
