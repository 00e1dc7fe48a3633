using Iced.Intel;
using SplitEmu.Guests;
using SplitEmu.Tests.Infrastructure;
using static Iced.Intel.AssemblerRegisters;

namespace SplitEmu.Tests.Guests;

/// <summary>
/// A flat 32-bit guest that drives the PIIX3 IDE controller's bus master itself (no BIOS): it programs BAR4 and
/// the command register through the host bridge, then reads sectors by READ DMA through PRD tables into guest
/// RAM, and checks what arrived. Exit value <see cref="Success"/> when all is right, a distinct code per check.
/// </summary>
/// <remarks>
/// The checks: (1) a sector split over two PRD entries lands in both buffers, byte for byte, and not a byte
/// beyond each entry's count; (2) a sector of code DMA'd over code the CPU has already run replaces it (the
/// CPU dropped its decoded copy); (3) a PRD pointing outside RAM ends the command with the bus master's error
/// bit and the drive's ERR bit, and the guest runs on; (4) a WRITE DMA of a buffer the guest then overwrites
/// reads back as it was written — also when the controller's process is killed and its journal replayed,
/// which must not write today's buffer again.
/// </remarks>
internal static class BusMasterDmaGuest
{
    public const ulong LoadAddress = 0x0010_0000;
    public const byte Success = 0x10;

    /// <summary>
    /// Writes the guest, its disk and a profile (i440fx, the IDE controller with <paramref name="idePlacement"/> and
    /// the disk as primary master, inline debug-exit) into <paramref name="folder"/>; returns the profile's path.
    /// </summary>
    public static string WriteMachine(TempFolder folder, string idePlacement)
    {
        string disk = folder.File("disk.img");
        string guest = folder.File("dma.bin");
        File.WriteAllBytes(disk, BuildDisk());
        File.WriteAllBytes(guest, Build());
        string profile = folder.File("dma.json");
        File.WriteAllText(profile, $$"""
            {
              "schemaVersion": 1,
              "name": "dma-test",
              "memory": { "sizeMiB": 16 },
              "load": [ { "file": "{{guest}}", "format": "flat", "address": "0x100000" } ],
              "cpu": { "mode": "protected32-flat", "entry": "0x100000", "stack": "0x200000" },
              "devices": [
                { "id": "pci", "type": "i440fx" },
                { "id": "ide", "type": "piix3-ide", "placement": "{{idePlacement}}", "config": { "primary-master": "{{disk}}" } },
                { "id": "exit", "type": "debug-exit", "io": "0x501", "placement": "inline" }
              ]
            }
            """);
        return profile;
    }
    public const byte FailedOldCode = 0x21;
    public const byte FailedFirstReadError = 0x22;
    public const byte FailedFirstReadData = 0x23;
    public const byte FailedOverrun = 0x24;
    public const byte FailedNewCode = 0x25;
    public const byte FailedWildNoError = 0x26;
    public const byte FailedNoCompletion = 0x27;
    public const byte FailedWriteBack = 0x28;

    private const ushort BusMasterBase = 0xC000;
    private const uint PrdTable = 0x0020_0000;
    private const uint BufferA = 0x0030_0000;
    private const uint BufferB = 0x0031_0000;
    private const uint CodeTarget = 0x0032_0000;
    private const uint ReadBack = 0x0034_0000;
    private const uint ReadDma = (0x09 << 8) | 0xC8;   // bus master towards memory, READ DMA
    private const uint WriteDma = (0x01 << 8) | 0xCA;  // bus master from memory, WRITE DMA
    private const uint OutsideRam = 0x0F00_0000;
    private const uint OldCodeResult = 0x1111_1111;
    private const uint NewCodeResult = 0x5A5A_5A5A;

    /// <summary>The disk: LBA 1 the pattern of <see cref="BootSectorGuest.PatternByte"/>, LBA 2 code returning <see cref="NewCodeResult"/>.</summary>
    public static byte[] BuildDisk()
    {
        byte[] disk = new byte[8 * BootSectorGuest.SectorBytes];
        for (int i = 0; i < BootSectorGuest.SectorBytes; i++)
        {
            disk[BootSectorGuest.SectorBytes + i] = BootSectorGuest.PatternByte(1, i);
        }

        byte[] code = [0xB8, .. BitConverter.GetBytes(NewCodeResult), 0xC3]; // mov eax, imm32; ret
        code.CopyTo(disk, 2 * BootSectorGuest.SectorBytes);
        return disk;
    }

    public static byte[] Build()
    {
        uint sumA = 0;
        uint sumB = 0;
        for (int i = 0; i < 256; i++)
        {
            sumA += BootSectorGuest.PatternByte(1, i);
            sumB += BootSectorGuest.PatternByte(1, 256 + i);
        }

        var a = new Assembler(32);
        var readDma = a.CreateLabel("read_dma");
        var sum256 = a.CreateLabel("sum256");
        var fail = a.CreateLabel("fail");

        // PCI: BAR4 of 00:01.1 = 0xC000 (I/O), then I/O space and bus master on.
        a.mov(dx, 0xCF8);
        a.mov(eax, 0x8000_0920u);
        a.@out(dx, eax);
        a.mov(dx, 0xCFC);
        a.mov(eax, BusMasterBase | 1u);
        a.@out(dx, eax);
        a.mov(dx, 0xCF8);
        a.mov(eax, 0x8000_0904u);
        a.@out(dx, eax);
        a.mov(dx, 0xCFC);
        a.mov(ax, 0x0005);
        a.@out(dx, ax);

        // Code the CPU runs (and caches) before DMA replaces it.
        a.mov(__dword_ptr[CodeTarget], 0x1111_11B8u);
        a.mov(__word_ptr[CodeTarget + 4], 0xC311);
        a.mov(ebx, CodeTarget);
        a.call(ebx);
        a.mov(cl, FailedOldCode);
        a.cmp(eax, OldCodeResult);
        a.jne(fail);

        // (1) LBA 1 over two PRD entries of 256 bytes.
        a.mov(__dword_ptr[PrdTable], BufferA);
        a.mov(__dword_ptr[PrdTable + 4], 256u);
        a.mov(__dword_ptr[PrdTable + 8], BufferB);
        a.mov(__dword_ptr[PrdTable + 12], 0x8000_0000u | 256u);
        a.mov(eax, 1u);
        a.mov(ebp, ReadDma);
        a.call(readDma);
        a.mov(cl, FailedFirstReadError);
        a.test(al, 0x02);                        // bus-master error
        a.jnz(fail);
        a.test(bl, 0x01);                        // drive ERR
        a.jnz(fail);
        a.mov(esi, BufferA);
        a.call(sum256);
        a.mov(cl, FailedFirstReadData);
        a.cmp(eax, sumA);
        a.jne(fail);
        a.mov(esi, BufferB);
        a.call(sum256);
        a.cmp(eax, sumB);
        a.jne(fail);
        a.mov(cl, FailedOverrun);
        a.cmp(__byte_ptr[BufferA + 256], 0);
        a.jne(fail);
        a.cmp(__byte_ptr[BufferB + 256], 0);
        a.jne(fail);

        // (2) LBA 2 (code) over the code at CodeTarget.
        a.mov(__dword_ptr[PrdTable], CodeTarget);
        a.mov(__dword_ptr[PrdTable + 4], 0x8000_0000u | 512u);
        a.mov(eax, 2u);
        a.mov(ebp, ReadDma);
        a.call(readDma);
        a.mov(ebx, CodeTarget);
        a.call(ebx);
        a.mov(cl, FailedNewCode);
        a.cmp(eax, NewCodeResult);
        a.jne(fail);

        // (3) A PRD outside RAM: the command fails, the machine goes on.
        a.mov(__dword_ptr[PrdTable], OutsideRam);
        a.mov(__dword_ptr[PrdTable + 4], 0x8000_0000u | 512u);
        a.mov(eax, 1u);
        a.mov(ebp, ReadDma);
        a.call(readDma);
        a.mov(cl, FailedWildNoError);
        a.test(al, 0x02);
        a.jz(fail);
        a.test(bl, 0x01);
        a.jz(fail);

        // (4) WRITE DMA of BufferA (its 256 pattern bytes, then zeros) to LBA 3; overwrite BufferA; read LBA 3 back.
        a.mov(__dword_ptr[PrdTable], BufferA);
        a.mov(__dword_ptr[PrdTable + 4], 0x8000_0000u | 512u);
        a.mov(eax, 3u);
        a.mov(ebp, WriteDma);
        a.call(readDma);
        a.mov(cl, FailedWriteBack);
        a.test(al, 0x02);
        a.jnz(fail);
        a.mov(edi, BufferA);
        a.mov(ecx, 256);
        a.mov(al, 0xFF);
        a.rep.stosb();
        a.mov(__dword_ptr[PrdTable], ReadBack);
        a.mov(eax, 3u);
        a.mov(ebp, ReadDma);
        a.call(readDma);
        a.mov(esi, ReadBack);
        a.call(sum256);
        a.mov(cl, FailedWriteBack);
        a.cmp(eax, sumA);
        a.jne(fail);

        a.mov(cl, Success);
        a.Label(ref fail);                       // CL = the exit value
        a.mov(dx, 0x501);
        a.mov(al, cl);
        a.@out(dx, al);
        var halt = a.CreateLabel("halt");
        a.Label(ref halt);
        a.cli();
        a.hlt();
        a.jmp(halt);

        // --- read_dma: one-sector DMA at LBA EAX through the PRD table; EBP = bus-master command << 8 | ATA command.
        // Returns AL = bus-master status, BL = drive status.
        a.Label(ref readDma);
        a.mov(edi, eax);
        a.mov(dx, BusMasterBase);
        a.mov(al, 0);
        a.@out(dx, al);                          // stop
        a.mov(dx, BusMasterBase + 2);
        a.mov(al, 0x06);
        a.@out(dx, al);                          // clear error and interrupt (write 1 to clear)
        a.mov(dx, BusMasterBase + 4);
        a.mov(eax, PrdTable);
        a.@out(dx, eax);
        a.mov(eax, edi);
        a.shr(eax, 24);
        a.and(al, 0x0F);
        a.or(al, 0xE0);                          // LBA, drive 0
        a.mov(dx, 0x1F6);
        a.@out(dx, al);
        a.mov(al, 1);
        a.mov(dx, 0x1F2);
        a.@out(dx, al);
        a.mov(eax, edi);
        a.mov(dx, 0x1F3);
        a.@out(dx, al);
        a.shr(eax, 8);
        a.mov(dx, 0x1F4);
        a.@out(dx, al);
        a.shr(eax, 8);
        a.mov(dx, 0x1F5);
        a.@out(dx, al);
        a.mov(eax, ebp);                         // READ DMA or WRITE DMA
        a.mov(dx, 0x1F7);
        a.@out(dx, al);
        a.mov(eax, ebp);
        a.shr(eax, 8);                           // start, with the direction
        a.mov(dx, BusMasterBase);
        a.@out(dx, al);
        a.mov(ecx, 1_000_000);
        var wait = a.CreateLabel("wait");
        a.Label(ref wait);
        a.mov(dx, BusMasterBase + 2);
        a.@in(al, dx);
        a.test(al, 0x04);                        // interrupt: the transfer ended (well or not)
        a.jnz(a.F);
        a.loop(wait);
        a.pop(eax);                              // drop the return address: report and stop
        a.mov(cl, FailedNoCompletion);
        a.jmp(fail);
        a.AnonymousLabel();
        a.mov(ah, al);
        a.mov(dx, 0x1F7);
        a.@in(al, dx);                           // drive status (acknowledges its interrupt)
        a.mov(bl, al);
        a.mov(al, 0);
        a.mov(dx, BusMasterBase);
        a.@out(dx, al);                          // stop
        a.mov(al, ah);
        a.ret();

        // --- sum256: EAX = sum of the 256 bytes at ESI.
        a.Label(ref sum256);
        a.xor(eax, eax);
        a.mov(ecx, 256);
        var next = a.CreateLabel("next");
        a.Label(ref next);
        a.movzx(edx, __byte_ptr[esi]);
        a.add(eax, edx);
        a.inc(esi);
        a.loop(next);
        a.ret();

        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), LoadAddress);
        return code.ToArray();
    }
}
