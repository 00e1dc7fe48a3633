using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Guests;

/// <summary>
/// The first guest on the ladder: a flat 32-bit protected-mode program that greets over a 16550 UART,
/// prints the CRC-32 of a table embedded in its own image, then asks the machine to exit through the
/// debug-exit port.
/// </summary>
/// <remarks>
/// The loader (not a BIOS) copies the image to <see cref="LoadAddress"/>, puts the CPU in flat 32-bit
/// protected mode with ESP = <see cref="StackTop"/> and starts it at the first byte of the image.
/// Image layout: code from offset 0, data (strings and table) from <see cref="DataOffset"/>, so the code
/// can address its data with absolute constants and no relocation is needed.
/// </remarks>
public static class HelloGuest
{
    /// <summary>Guest-physical address the image is loaded at and entered at.</summary>
    public const ulong LoadAddress = 0x0010_0000;

    /// <summary>Initial ESP the loader sets (stack grows down from here; 1 MiB above the image).</summary>
    public const uint StackTop = 0x0020_0000;

    /// <summary>Value written to the debug-exit port; the machine's exit code becomes (value &lt;&lt; 1) | 1 = 33.</summary>
    public const byte ExitValue = 0x10;

    /// <summary>I/O port of the debug-exit device (QEMU isa-debug-exit convention).</summary>
    public const ushort DebugExitPort = 0x501;

    /// <summary>16550 transmit holding register (COM1 base).</summary>
    public const ushort UartData = 0x3F8;

    /// <summary>16550 line status register; bit 5 set means the transmit holding register is empty.</summary>
    public const ushort UartLineStatus = 0x3FD;

    /// <summary>Offset in the image where data starts; the code must fit below it.</summary>
    public const int DataOffset = 0x200;

    /// <summary>Number of bytes of the embedded table the guest checksums.</summary>
    public const int TableLength = 256;

    /// <summary>The first output line, including its newline.</summary>
    public const string Greeting = "Hello from SplitEmu\n";

    private const string ChecksumPrefix = "Checksum: 0x";
    private const byte LineStatusThrEmpty = 0x20;
    private const uint Crc32Polynomial = 0xEDB88320; // IEEE 802.3, reflected

    private static readonly byte[] s_table = GenerateTable();

    /// <summary>The data the guest checksums, exactly as embedded in the image.</summary>
    public static ReadOnlySpan<byte> Table => s_table;

    /// <summary>The exact text the guest prints on the UART, for a given table checksum.</summary>
    public static string ExpectedOutput(uint checksum) => $"{Greeting}{ChecksumPrefix}{checksum:X8}\n";

    /// <summary>Assembles the flat image (code, then data at <see cref="DataOffset"/>).</summary>
    public static byte[] Build()
    {
        // Data first, so the code knows every absolute address.
        var data = new List<byte>();
        uint greetingAddress = AppendString(data, Greeting);
        uint prefixAddress = AppendString(data, ChecksumPrefix);
        uint tableAddress = (uint)(LoadAddress + DataOffset) + (uint)data.Count;
        data.AddRange(s_table);

        var a = new Assembler(32);
        var putChar = a.CreateLabel("put_char");
        var printString = a.CreateLabel("print_string");
        var printHex32 = a.CreateLabel("print_hex32");
        var crc32 = a.CreateLabel("crc32");

        // A Multiboot header first: it tells loaders the image's length, so a truncated file is refused.
        MultibootHeader.Emit(a, LoadAddress, (uint)(DataOffset + data.Count));

        // --- main ---
        a.mov(esp, StackTop);
        a.mov(esi, greetingAddress);
        a.call(printString);

        a.mov(esi, tableAddress);
        a.mov(ecx, TableLength);
        a.call(crc32);
        a.mov(ebx, eax);                         // keep the checksum while the prefix prints

        a.mov(esi, prefixAddress);
        a.call(printString);
        a.mov(eax, ebx);
        a.call(printHex32);
        a.mov(al, (byte)'\n');
        a.call(putChar);

        a.mov(dx, DebugExitPort);
        a.mov(al, ExitValue);
        a.@out(dx, al);
        var halt = a.CreateLabel("halt");        // only reached if the exit port does not stop the machine
        a.Label(ref halt);
        a.cli();
        a.hlt();
        a.jmp(halt);

        // --- put_char: writes AL to the UART once the transmitter is empty; preserves all registers ---
        a.Label(ref putChar);
        a.push(edx);
        a.push(eax);
        a.mov(dx, UartLineStatus);
        var waitEmpty = a.CreateLabel();
        a.Label(ref waitEmpty);
        a.@in(al, dx);
        a.test(al, LineStatusThrEmpty);
        a.jz(waitEmpty);
        a.pop(eax);
        a.mov(dx, UartData);
        a.@out(dx, al);
        a.pop(edx);
        a.ret();

        // --- print_string: prints the NUL-terminated string at ESI; clobbers ESI, EAX ---
        a.Label(ref printString);                // also the loop head: one byte per pass
        var stringDone = a.CreateLabel();
        a.mov(al, __byte_ptr[esi]);
        a.inc(esi);
        a.test(al, al);
        a.jz(stringDone);
        a.call(putChar);
        a.jmp(printString);
        a.Label(ref stringDone);
        a.ret();

        // --- crc32: EAX = CRC-32 of ECX bytes at ESI, bit by bit (no table); clobbers ECX, EDX, ESI, EDI ---
        a.Label(ref crc32);
        a.mov(eax, 0xFFFF_FFFFu);
        var nextByte = a.CreateLabel();
        var nextBit = a.CreateLabel();
        var noXor = a.CreateLabel();
        a.Label(ref nextByte);
        a.movzx(edx, __byte_ptr[esi]);
        a.xor(eax, edx);
        a.inc(esi);
        a.mov(edi, 8);
        a.Label(ref nextBit);
        a.shr(eax, 1);                           // CF = bit shifted out
        a.jae(noXor);
        a.xor(eax, Crc32Polynomial);
        a.Label(ref noXor);
        a.dec(edi);
        a.jnz(nextBit);
        a.dec(ecx);
        a.jnz(nextByte);
        a.not(eax);
        a.ret();

        // --- print_hex32: prints EAX as 8 uppercase hex digits, most significant first; clobbers ECX ---
        a.Label(ref printHex32);
        a.mov(ecx, 8);
        var nextDigit = a.CreateLabel();
        var isDecimal = a.CreateLabel();
        var emit = a.CreateLabel();
        a.Label(ref nextDigit);
        a.rol(eax, 4);                           // next nibble into AL's low bits
        a.push(eax);
        a.and(al, 0x0F);
        a.cmp(al, 10);
        a.jb(isDecimal);
        a.add(al, (byte)('A' - 10));
        a.jmp(emit);
        a.Label(ref isDecimal);
        a.add(al, (byte)'0');
        a.Label(ref emit);
        a.call(putChar);
        a.pop(eax);
        a.dec(ecx);
        a.jnz(nextDigit);
        a.ret();

        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        if (code.Length > DataOffset)
            throw new InvalidOperationException($"HelloGuest code is {code.Length} bytes; it must fit below DataOffset {DataOffset:X}.");

        var image = new byte[DataOffset + data.Count];
        code.ToArray().CopyTo(image, 0);
        data.CopyTo(image, DataOffset);
        return image;
    }

    private static uint AppendString(List<byte> data, string text)
    {
        uint address = (uint)(LoadAddress + DataOffset) + (uint)data.Count;
        foreach (char c in text)
            data.Add((byte)c);
        data.Add(0);
        return address;
    }

    /// <summary>A fixed pseudo-random pattern (xorshift32, fixed seed) so the checksum is stable across builds.</summary>
    private static byte[] GenerateTable()
    {
        var table = new byte[TableLength];
        uint state = 0x2545_F491;
        for (int i = 0; i < table.Length; i++)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            table[i] = (byte)state;
        }
        return table;
    }
}
