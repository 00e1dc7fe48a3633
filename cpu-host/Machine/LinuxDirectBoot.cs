using System.Buffers.Binary;
using System.Text;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.Shared.Boot;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// Direct kernel boot, as QEMU's <c>-kernel</c> and Firecracker do it, by the Linux x86 32-bit boot protocol
/// (Documentation/arch/x86/boot.rst): the protected-mode kernel at <c>code32_start</c>, the initrd as high as
/// the kernel allows, a zero page (boot_params) with the setup header, an e820 map of this machine's RAM and
/// the command line, and the CPU in flat 32-bit protected mode at <c>code32_start</c> with ESI pointing at
/// boot_params. No firmware runs: the kernel starts as if a boot loader had just handed over.
/// </summary>
public static class LinuxDirectBoot
{
    /// <summary>Where the loader's own structures go: below the EBDA, apart from the kernel and the initrd.</summary>
    public const uint GdtAddress = 0x1000, BootParamsAddress = 0x10000, CommandLineAddress = 0x20000, InitialStack = 0x9_0000;

    /// <summary>Selectors the boot protocol requires: __BOOT_CS and __BOOT_DS.</summary>
    public const ushort BootCodeSelector = 0x10, BootDataSelector = 0x18;

    /// <summary>End of conventional memory usable by the kernel; 0x9FC00-0xFFFFF is EBDA, video and BIOS area.</summary>
    public const uint ConventionalMemoryEnd = 0x9_FC00;

    private const int E820EntriesOffset = 0x1E8, E820TableOffset = 0x2D0, E820EntrySize = 20;
    private const int AltMemKOffset = 0x1E0, TypeOfLoaderOffset = 0x210, RamdiskImageOffset = 0x218, RamdiskSizeOffset = 0x21C;
    private const int CmdLinePointerOffset = 0x228;
    private const uint E820Ram = 1, E820Reserved = 2;
    private const byte UndefinedLoader = 0xFF;

    /// <summary>Loads the kernel, initrd and boot_params into RAM and puts the CPU at the kernel's 32-bit entry.</summary>
    /// <exception cref="InvalidDataException">The kernel image, initrd or command line does not fit this machine.</exception>
    public static void Boot(GuestRam ram, X86Cpu cpu, LinuxKernelImage kernel, byte[]? initrd, string commandLine)
    {
        if (kernel.MemoryNeeded > ram.Size)
        {
            throw new InvalidDataException($"needs {kernel.MemoryNeeded >> 20} MiB of RAM to decompress and start; the machine has {ram.Size >> 20} MiB");
        }

        byte[] commandLineBytes = Encoding.UTF8.GetBytes(commandLine);
        if ((uint)commandLineBytes.Length > kernel.CmdlineSize)
        {
            throw new InvalidDataException($"command line is {commandLineBytes.Length} bytes; the kernel takes at most {kernel.CmdlineSize}");
        }

        ram.Load(kernel.Code32Start, kernel.ProtectedModeKernel);

        byte[] bootParams = new byte[4096];
        kernel.Image.AsSpan(LinuxKernelImage.HeaderStart, kernel.HeaderEnd - LinuxKernelImage.HeaderStart).CopyTo(bootParams.AsSpan(LinuxKernelImage.HeaderStart));
        bootParams[TypeOfLoaderOffset] = UndefinedLoader;
        BinaryPrimitives.WriteUInt32LittleEndian(bootParams.AsSpan(CmdLinePointerOffset), CommandLineAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(bootParams.AsSpan(AltMemKOffset), (uint)((ram.Size - 0x10_0000) >> 10));
        WriteMemoryMap(bootParams, ram.Size);

        if (initrd is { Length: > 0 })
        {
            uint address = kernel.InitrdAddress(ram.Size, initrd.Length)
                ?? throw new InvalidDataException($"initrd of {initrd.Length} bytes does not fit between the kernel's working memory and the end of RAM; give the machine more memory");
            ram.Load(address, initrd);
            BinaryPrimitives.WriteUInt32LittleEndian(bootParams.AsSpan(RamdiskImageOffset), address);
            BinaryPrimitives.WriteUInt32LittleEndian(bootParams.AsSpan(RamdiskSizeOffset), (uint)initrd.Length);
        }

        ram.Load(BootParamsAddress, bootParams);
        ram.Load(CommandLineAddress, [.. commandLineBytes, 0]);
        byte[] gdt = BootGdt();
        ram.Load(GdtAddress, gdt);
        cpu.EnterFlatProtectedMode(kernel.Code32Start, InitialStack, BootCodeSelector, BootDataSelector, GdtAddress, (ushort)(gdt.Length - 1));
        ref CpuState state = ref cpu.State;
        state.Gpr[Gpr.Rsi] = BootParamsAddress;
        state.Gpr[Gpr.Rbx] = state.Gpr[Gpr.Rbp] = state.Gpr[Gpr.Rdi] = 0;
    }

    /// <summary>The e820 map: conventional memory, the reserved EBDA/video/BIOS hole, then RAM from 1 MiB.</summary>
    private static void WriteMemoryMap(byte[] bootParams, ulong ramSize)
    {
        (ulong Start, ulong Length, uint Type)[] entries =
        [
            (0, ConventionalMemoryEnd, E820Ram),
            (ConventionalMemoryEnd, 0x10_0000 - ConventionalMemoryEnd, E820Reserved),
            (0x10_0000, ramSize - 0x10_0000, E820Ram),
        ];
        bootParams[E820EntriesOffset] = (byte)entries.Length;
        for (int i = 0; i < entries.Length; i++)
        {
            Span<byte> entry = bootParams.AsSpan(E820TableOffset + i * E820EntrySize, E820EntrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(entry, entries[i].Start);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], entries[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[16..], entries[i].Type);
        }
    }

    /// <summary>A GDT with flat 4 GiB code at __BOOT_CS and data at __BOOT_DS, as the boot protocol requires.</summary>
    private static byte[] BootGdt()
    {
        byte[] gdt = new byte[32];
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(BootCodeSelector), 0x00CF_9B00_0000_FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt.AsSpan(BootDataSelector), 0x00CF_9300_0000_FFFF);
        return gdt;
    }
}
