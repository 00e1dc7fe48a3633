using System.Runtime.InteropServices;
using System.Text;
using SplitEmu.CpuHost.Cpu;

namespace SplitEmu.Tests.Cpu.Infrastructure;

/// <summary>
/// A tiny machine for CPU tests: RAM from physical 0 up to <see cref="RamSize"/>, a 16550 stand-in that
/// captures bytes written to its data port (line status always reads "transmitter empty"), and a
/// debug-exit port that records the value and stops the CPU. Everything else reads as all ones.
/// </summary>
public sealed unsafe class FakeCpuBus : ICpuBus, IDisposable
{
    public const ushort UartData = 0x3F8;
    public const ushort UartLineStatus = 0x3FD;
    /// <summary>THR empty and transmitter empty.</summary>
    public const byte LineStatusIdle = 0x60;
    public const ushort DebugExit = 0x501;

    private readonly byte* _ram;
    private readonly StringBuilder _uart = new();

    public FakeCpuBus(ulong ramSize)
    {
        RamSize = ramSize;
        _ram = (byte*)NativeMemory.AllocZeroed((nuint)ramSize);
    }

    public ulong RamSize { get; }

    /// <summary>CPU to stop when the guest writes the debug-exit port.</summary>
    public X86Cpu? Cpu { get; set; }

    /// <summary>Text written to the UART data port.</summary>
    public string UartOutput => _uart.ToString();

    /// <summary>Value written to the debug-exit port, or null if none yet.</summary>
    public byte? ExitValue { get; private set; }

    public int MapGeneration { get; set; }

    /// <summary>Every (port, size, value) written, in order.</summary>
    public List<(ushort Port, int Size, uint Value)> PortWrites { get; } = new();

    public Span<byte> Ram => new(_ram, checked((int)RamSize));

    public byte* GetRamPage(ulong physicalAddress, bool write)
        => physicalAddress < RamSize ? _ram + (physicalAddress & ~0xFFFUL) : null;

    public ulong ReadMemory(ulong physicalAddress, int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    public void WriteMemory(ulong physicalAddress, int size, ulong value)
    {
    }

    public uint ReadPort(ushort port, int size) => port switch
    {
        UartLineStatus => LineStatusIdle,
        _ => size == 4 ? uint.MaxValue : (1u << (size * 8)) - 1,
    };

    public void WritePort(ushort port, int size, uint value)
    {
        PortWrites.Add((port, size, value));
        switch (port)
        {
            case UartData:
                _uart.Append((char)(byte)value);
                break;
            case DebugExit:
                ExitValue = (byte)value;
                Cpu?.RequestStop();
                break;
        }
    }

    public void Load(ulong physicalAddress, ReadOnlySpan<byte> bytes) => bytes.CopyTo(Ram[(int)physicalAddress..]);

    public void Dispose() => NativeMemory.Free(_ram);
}
