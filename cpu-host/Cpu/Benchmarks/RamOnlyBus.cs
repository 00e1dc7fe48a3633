using System.Runtime.InteropServices;

namespace SplitEmu.CpuHost.Cpu.Benchmarks;

/// <summary>A bus with nothing but RAM from physical 0: the interpreter's best case, for benchmarks.</summary>
internal sealed unsafe class RamOnlyBus : ICpuBus, IDisposable
{
    private readonly byte* _ram;
    private readonly ulong _size;

    public RamOnlyBus(ulong size)
    {
        _size = size;
        _ram = (byte*)NativeMemory.AllocZeroed((nuint)size);
    }

    public int MapGeneration => 0;

    public byte* GetRamPage(ulong physicalAddress, bool write) => physicalAddress < _size ? _ram + (physicalAddress & ~0xFFFUL) : null;

    public ulong ReadMemory(ulong physicalAddress, int size) => ulong.MaxValue >> (64 - 8 * size);

    public void WriteMemory(ulong physicalAddress, int size, ulong value)
    {
    }

    public uint ReadPort(ushort port, int size) => uint.MaxValue >> (32 - 8 * size);

    public void WritePort(ushort port, int size, uint value)
    {
    }

    public void Load(ulong physicalAddress, ReadOnlySpan<byte> bytes) => bytes.CopyTo(new Span<byte>(_ram + physicalAddress, bytes.Length));

    public void Dispose() => NativeMemory.Free(_ram);
}
