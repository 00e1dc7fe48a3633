using System.Runtime.InteropServices;

namespace SplitEmu.CpuHost.Machine;

/// <summary>Guest RAM: page-aligned, zero-filled host memory owned by the CPU process.</summary>
public sealed unsafe class GuestRam : IDisposable
{
    private byte* _memory;

    /// <summary>Allocates <paramref name="size"/> bytes.</summary>
    public GuestRam(ulong size)
    {
        Size = size;
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)size, 4096);
        NativeMemory.Clear(_memory, (nuint)size);
    }

    /// <summary>Bytes of RAM.</summary>
    public ulong Size { get; }

    /// <summary>First byte.</summary>
    public byte* Base => _memory;

    /// <summary>Copies <paramref name="data"/> to guest-physical <paramref name="address"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The data does not fit in RAM there.</exception>
    public void Load(ulong address, ReadOnlySpan<byte> data)
    {
        if (address > Size || (ulong)data.Length > Size - address)
        {
            throw new ArgumentOutOfRangeException(nameof(address), $"{data.Length} bytes at 0x{address:X} do not fit in {Size >> 20} MiB of RAM");
        }

        data.CopyTo(new Span<byte>(_memory + address, data.Length));
    }

    /// <summary>A copy of <paramref name="length"/> bytes at <paramref name="address"/> (tests, monitor).</summary>
    public byte[] Read(ulong address, int length) => new ReadOnlySpan<byte>(_memory + address, length).ToArray();

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_memory != null)
        {
            NativeMemory.AlignedFree(_memory);
            _memory = null;
        }
    }
}
