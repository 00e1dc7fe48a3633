using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Launch;

/// <summary>
/// A flat 32-bit guest that writes <see cref="Bytes"/> bytes of <see cref="ByteAt"/> to COM1 as fast as the UART
/// takes them (16 bytes per empty transmit FIFO), waits until the transmitter is empty, and ends the machine
/// through the debug-exit port with <see cref="ExitValue"/>: more output than the console's buffers and the
/// stdout pipe hold together, quickly, so a reader that stops reading holds it back.
/// </summary>
internal static class ConsoleFloodGuest
{
    public const ulong LoadAddress = 0x0010_0000;
    public const int Bytes = 256 << 10;
    public const byte ExitValue = 0x21;

    private const ushort UartData = 0x3F8, UartFifoControl = 0x3FA, UartLineStatus = 0x3FD, DebugExit = 0x501;
    private const byte FifoEnable = 0x01, ThrEmpty = 0x20, TransmitterEmpty = 0x40;

    /// <summary>The byte the guest writes at offset <paramref name="i"/>: every value, in an order no buffer boundary repeats.</summary>
    public static byte ByteAt(int i) => (byte)(i ^ (i >> 8));

    public static byte[] Expected(int bytes = Bytes) => [.. Enumerable.Range(0, bytes).Select(ByteAt)];

    /// <summary>The guest, writing <paramref name="bytes"/> bytes (<see cref="Bytes"/> unless said).</summary>
    public static byte[] Build(int bytes = Bytes)
    {
        var a = new Assembler(32);
        var chunk = a.CreateLabel("chunk");
        var waitFifo = a.CreateLabel("wait_fifo");
        var next = a.CreateLabel("next");
        var drained = a.CreateLabel("drained");
        var waitEmpty = a.CreateLabel("wait_empty");
        a.mov(dx, UartFifoControl);
        a.mov(al, FifoEnable);
        a.@out(dx, al);
        a.xor(ecx, ecx);               // ecx = bytes written

        a.Label(ref chunk);
        a.mov(dx, UartLineStatus);
        a.Label(ref waitFifo);
        a.@in(al, dx);
        a.test(al, ThrEmpty);
        a.jz(waitFifo);
        a.mov(dx, UartData);
        a.mov(esi, 16);                // a whole FIFO's worth
        a.Label(ref next);
        a.mov(eax, ecx);
        a.shr(eax, 8);
        a.xor(eax, ecx);
        a.@out(dx, al);
        a.inc(ecx);
        a.cmp(ecx, bytes);
        a.je(drained);
        a.dec(esi);
        a.jnz(next);
        a.jmp(chunk);

        a.Label(ref drained);          // the last bytes leave the FIFO before the machine ends
        a.mov(dx, UartLineStatus);
        a.Label(ref waitEmpty);
        a.@in(al, dx);
        a.test(al, TransmitterEmpty);
        a.jz(waitEmpty);
        a.mov(dx, DebugExit);
        a.mov(al, ExitValue);
        a.@out(dx, al);
        a.hlt();
        using MemoryStream code = new();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        return code.ToArray();
    }
}
