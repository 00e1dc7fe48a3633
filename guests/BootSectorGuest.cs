using System.Text;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Guests;

/// <summary>
/// The first guest that a real BIOS starts: a hard-disk boot sector. The BIOS reads it from LBA 0 of the
/// disk to 0000:7C00 and jumps to it in real mode; it prints <see cref="Line"/> through the BIOS video
/// service (INT 10h, AH=0Eh teletype — on a machine without VGA SeaBIOS sends that to the serial console)
/// and then ends the machine through the debug-exit port, so the exit code is 33.
/// </summary>
public static class BootSectorGuest
{
    /// <summary>Where every PC BIOS loads a boot sector.</summary>
    public const ushort LoadAddress = 0x7C00;

    /// <summary>The line the boot sector prints (without its CR LF).</summary>
    public const string Line = "SplitEmu boot sector: booted from the IDE disk";

    /// <summary>Value written to the debug-exit port; the exit code becomes (value &lt;&lt; 1) | 1 = 33.</summary>
    public const byte ExitValue = 0x10;

    /// <summary>Size of the disk image the build writes: 4 MiB, like the reference run in notes/seabios-reference-boot.md.</summary>
    public const int DiskBytes = 4 << 20;

    /// <summary>Bytes per sector.</summary>
    public const int SectorBytes = 512;

    /// <summary>Offset of the message inside the sector (the code must fit below it).</summary>
    private const int MessageOffset = 0x100;

    /// <summary>The 512-byte boot sector, ending in the 55 AA boot signature.</summary>
    public static byte[] BuildSector()
    {
        var a = new Assembler(16);
        var nextChar = a.CreateLabel("next_char");
        var done = a.CreateLabel("done");
        var halt = a.CreateLabel("halt");

        a.cli();
        a.xor(ax, ax);
        a.mov(ds, ax);
        a.mov(ss, ax);
        a.mov(sp, LoadAddress);              // the stack grows down below the sector
        a.sti();
        a.cld();
        a.mov(si, (ushort)(LoadAddress + MessageOffset));
        a.Label(ref nextChar);
        a.lodsb();
        a.test(al, al);
        a.jz(done);
        a.mov(ah, 0x0E);                     // teletype output
        a.mov(bx, 0x0007);                   // page 0, light grey
        a.@int(0x10);
        a.jmp(nextChar);
        a.Label(ref done);
        // The BIOS may hold teletype output for a serial console until its timer tick (SeaBIOS's sercon does):
        // let two ticks (~110 ms) of the BIOS tick count at 0040:006C pass before ending the machine.
        var wait = a.CreateLabel("wait");
        a.mov(ax, 0x0040);
        a.mov(ds, ax);                       // the BIOS data area; the message is printed already
        a.mov(cx, __word_ptr[0x006C]);
        a.add(cx, 2);
        a.Label(ref wait);
        a.hlt();                             // interrupts are on: the timer interrupt ends each HLT
        a.mov(ax, __word_ptr[0x006C]);
        a.sub(ax, cx);
        a.js(wait);                          // until the count reaches the target (wrap-safe)
        a.mov(dx, 0x501);
        a.mov(al, ExitValue);
        a.@out(dx, al);
        a.Label(ref halt);                   // only reached if there is no debug-exit device
        a.hlt();
        a.jmp(halt);

        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        if (code.Length > MessageOffset)
        {
            throw new InvalidOperationException($"boot sector code is {code.Length} bytes; it must fit below offset 0x{MessageOffset:X}");
        }

        byte[] sector = new byte[SectorBytes];
        code.ToArray().CopyTo(sector, 0);
        Encoding.ASCII.GetBytes(Line + "\r\n\0").CopyTo(sector, MessageOffset);
        sector[510] = 0x55;
        sector[511] = 0xAA;
        return sector;
    }

    /// <summary>
    /// The disk image: the boot sector at LBA 0, and every later sector filled with a pattern derived from its
    /// LBA (<see cref="PatternByte"/>), so disk tests can tell which sector they got.
    /// </summary>
    public static byte[] BuildDisk()
    {
        byte[] disk = new byte[DiskBytes];
        BuildSector().CopyTo(disk, 0);
        for (int offset = SectorBytes; offset < disk.Length; offset++)
        {
            disk[offset] = PatternByte(offset / SectorBytes, offset % SectorBytes);
        }

        return disk;
    }

    /// <summary>The byte at <paramref name="index"/> of sector <paramref name="lba"/> (LBA 1 and up).</summary>
    public static byte PatternByte(int lba, int index) => (byte)((lba * 31) ^ (index * 7) ^ (index >> 8));
}
