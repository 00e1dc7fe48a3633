using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Guests;

/// <summary>
/// A console guest: it echoes every byte COM1 receives back out of COM1, lower-case ASCII letters upper-cased (so
/// an echo is told apart from the input), and ends the machine through the debug-exit port when it receives
/// <see cref="Terminator"/>. It polls the line status register (no interrupts) with the FIFO on, so console input
/// reaches it only as fast as the UART's 16-byte FIFO lets it: the flow control under test.
/// </summary>
/// <remarks>Loaded and started like <see cref="HelloGuest"/>: flat 32-bit protected mode at <see cref="LoadAddress"/>.</remarks>
public static class EchoGuest
{
    /// <summary>Guest-physical address the image is loaded at and entered at.</summary>
    public const ulong LoadAddress = HelloGuest.LoadAddress;

    /// <summary>Initial ESP the loader sets.</summary>
    public const uint StackTop = HelloGuest.StackTop;

    /// <summary>The byte that ends the machine (EOT, Ctrl-D); it is not echoed.</summary>
    public const byte Terminator = 0x04;

    /// <summary>Value written to the debug-exit port: the machine's exit code becomes (value &lt;&lt; 1) | 1 = 35.</summary>
    public const byte ExitValue = 0x11;

    /// <summary>Bytes of the image: the code, padded (the Multiboot header states the length).</summary>
    public const int ImageBytes = 0x100;

    private const ushort UartData = 0x3F8;
    private const ushort UartFifoControl = 0x3FA;
    private const ushort UartLineStatus = 0x3FD;
    private const byte LineStatusDataReady = 0x01;
    private const byte LineStatusThrEmpty = 0x20;

    /// <summary>FIFO on; not cleared, since input may have arrived before the guest started.</summary>
    private const byte FifoEnable = 0x01;

    /// <summary>What the guest sends back for <paramref name="received"/>.</summary>
    public static byte Echo(byte received) => received is >= (byte)'a' and <= (byte)'z' ? (byte)(received - 0x20) : received;

    /// <summary>Assembles the flat image.</summary>
    public static byte[] Build()
    {
        var a = new Assembler(32);
        var next = a.CreateLabel("next");
        var waitData = a.CreateLabel("wait_data");
        var send = a.CreateLabel("send");
        var waitEmpty = a.CreateLabel("wait_empty");
        var done = a.CreateLabel("done");
        var halt = a.CreateLabel("halt");

        MultibootHeader.Emit(a, LoadAddress, ImageBytes);
        a.mov(esp, StackTop);
        a.mov(dx, UartFifoControl);
        a.mov(al, FifoEnable);
        a.@out(dx, al);

        // --- receive one byte: poll LSR bit 0, then read RBR ---
        a.Label(ref next);
        a.mov(dx, UartLineStatus);
        a.Label(ref waitData);
        a.@in(al, dx);
        a.test(al, LineStatusDataReady);
        a.jz(waitData);
        a.mov(dx, UartData);
        a.@in(al, dx);
        a.cmp(al, Terminator);
        a.je(done);

        // --- upper-case a-z, then transmit once THR is empty ---
        a.cmp(al, (byte)'a');
        a.jb(send);
        a.cmp(al, (byte)'z');
        a.ja(send);
        a.sub(al, 0x20);
        a.Label(ref send);
        a.mov(bl, al);
        a.mov(dx, UartLineStatus);
        a.Label(ref waitEmpty);
        a.@in(al, dx);
        a.test(al, LineStatusThrEmpty);
        a.jz(waitEmpty);
        a.mov(al, bl);
        a.mov(dx, UartData);
        a.@out(dx, al);
        a.jmp(next);

        a.Label(ref done);
        a.mov(dx, HelloGuest.DebugExitPort);
        a.mov(al, ExitValue);
        a.@out(dx, al);
        a.Label(ref halt);                       // only reached if the exit port does not stop the machine
        a.cli();
        a.hlt();
        a.jmp(halt);

        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        if (code.Length > ImageBytes)
            throw new InvalidOperationException($"EchoGuest code is {code.Length} bytes; it must fit in {ImageBytes}.");

        var image = new byte[ImageBytes];
        code.ToArray().CopyTo(image, 0);
        return image;
    }
}
