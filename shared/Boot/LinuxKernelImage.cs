using System.Buffers.Binary;

namespace SplitEmu.Shared.Boot;

/// <summary>
/// The setup header of a Linux x86 bzImage, as the 32-bit boot protocol reads it (the kernel's
/// Documentation/arch/x86/boot.rst). Checked once, where the image is named (the launcher's validation), and
/// again where it is loaded (the CPU process): a malformed image is an <see cref="InvalidDataException"/>
/// whose message says what is wrong in the words of the boot protocol.
/// </summary>
public sealed class LinuxKernelImage
{
    /// <summary>Oldest protocol this loader speaks: 2.04 (a 32-bit <c>syssize</c>, bzImage loaded high).</summary>
    public const ushort MinimumProtocol = 0x0204;

    private const int SetupSectorsOffset = 0x1F1;
    private const int BootFlagOffset = 0x1FE;
    private const int HeaderMagicOffset = 0x202;
    private const int VersionOffset = 0x206;
    private const int LoadFlagsOffset = 0x211;
    private const int Code32StartOffset = 0x214;
    private const int InitrdAddressMaxOffset = 0x22C;
    private const int KernelAlignmentOffset = 0x230;
    private const int RelocatableOffset = 0x234;
    private const int CmdlineSizeOffset = 0x238;
    private const int PreferredAddressOffset = 0x258;
    private const int InitSizeOffset = 0x260;
    private const uint HeaderMagic = 0x5372_6448; // "HdrS"
    private const byte LoadedHigh = 0x01;

    private LinuxKernelImage(byte[] image)
    {
        Image = image;
        int setupSectors = image[SetupSectorsOffset] == 0 ? 4 : image[SetupSectorsOffset];
        SetupBytes = (setupSectors + 1) * 512;
        Protocol = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(VersionOffset));
        LoadFlags = image[LoadFlagsOffset];
        Code32Start = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(Code32StartOffset));
        InitrdAddressMax = Protocol >= 0x0203 ? BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(InitrdAddressMaxOffset)) : 0x37FF_FFFF;
        CmdlineSize = Protocol >= 0x0206 ? BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(CmdlineSizeOffset)) : 255;
        InitSize = Protocol >= 0x020A ? BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(InitSizeOffset)) : 0;
        PreferredAddress = Protocol >= 0x020A ? BinaryPrimitives.ReadUInt64LittleEndian(image.AsSpan(PreferredAddressOffset)) : 0x10_0000;
        Relocatable = Protocol >= 0x0205 && image[RelocatableOffset] != 0;
        KernelAlignment = Protocol >= 0x0205 ? BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(KernelAlignmentOffset)) : 0;
        HeaderEnd = HeaderMagicOffset + image[0x201];
    }

    /// <summary>The whole file.</summary>
    public byte[] Image { get; }

    /// <summary>Bytes of real-mode setup code at the start of the file (boot sector included); the protected-mode kernel follows.</summary>
    public int SetupBytes { get; }

    /// <summary>Boot protocol version, major in the high byte (0x020F is 2.15).</summary>
    public ushort Protocol { get; }

    /// <summary>The header's loadflags byte.</summary>
    public byte LoadFlags { get; }

    /// <summary>Where the protected-mode kernel expects to be loaded and entered (1 MiB for a bzImage).</summary>
    public uint Code32Start { get; }

    /// <summary>Highest address the initrd's last byte may have.</summary>
    public uint InitrdAddressMax { get; }

    /// <summary>Longest command line the kernel takes, without its terminating NUL.</summary>
    public uint CmdlineSize { get; }

    /// <summary>Bytes of linear memory the kernel needs from its load address while it decompresses and starts.</summary>
    public uint InitSize { get; }

    /// <summary>Where a relocatable kernel prefers to run.</summary>
    public ulong PreferredAddress { get; }

    /// <summary>Whether the kernel can run at an address other than its preferred one.</summary>
    public bool Relocatable { get; }

    /// <summary>Alignment a relocatable kernel needs.</summary>
    public uint KernelAlignment { get; }

    /// <summary>End (exclusive) of the setup header in the file: the bytes from 0x1F1 to here are copied into boot_params.</summary>
    public int HeaderEnd { get; }

    /// <summary>Offset in the file of the setup header (0x1F1), which is also its offset in boot_params.</summary>
    public static int HeaderStart => SetupSectorsOffset;

    /// <summary>The protected-mode kernel: what is loaded at <see cref="Code32Start"/>.</summary>
    public ReadOnlySpan<byte> ProtectedModeKernel => Image.AsSpan(SetupBytes);

    /// <summary>
    /// Bytes of RAM from 0 the kernel needs while it decompresses and starts: its load area, and the
    /// <see cref="InitSize"/> bytes from where it will run (its preferred address, or <see cref="Code32Start"/>).
    /// </summary>
    public ulong MemoryNeeded => Math.Max((ulong)Code32Start + (ulong)ProtectedModeKernel.Length, Math.Max(PreferredAddress, Code32Start) + InitSize);

    /// <summary>
    /// Where an initrd of <paramref name="length"/> bytes goes in <paramref name="ramSize"/> bytes of RAM: as high
    /// as it fits below both <see cref="InitrdAddressMax"/> and the end of RAM, page aligned, above everything
    /// <see cref="MemoryNeeded"/> covers (QEMU and GRUB place it the same way); null when it does not fit.
    /// </summary>
    public uint? InitrdAddress(ulong ramSize, long length)
    {
        ulong top = Math.Min((ulong)InitrdAddressMax + 1, ramSize);
        if (length <= 0 || (ulong)length > top)
        {
            return null;
        }

        ulong address = (top - (ulong)length) & ~0xFFFUL;
        return address >= MemoryNeeded ? (uint)address : null;
    }

    /// <summary>Reads and checks a bzImage.</summary>
    /// <exception cref="InvalidDataException">The file is not a bzImage this loader can boot; the message says why.</exception>
    public static LinuxKernelImage Parse(byte[] image)
    {
        if (image.Length < 0x264)
        {
            throw new InvalidDataException($"is {image.Length} bytes, too short to hold a Linux setup header (at least 612 bytes)");
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(BootFlagOffset)) != 0xAA55)
        {
            throw new InvalidDataException("has no boot flag 0xAA55 at offset 0x1FE: not a Linux kernel image");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(HeaderMagicOffset)) != HeaderMagic)
        {
            throw new InvalidDataException("has no \"HdrS\" setup header magic at offset 0x202: not a Linux kernel image, or one older than boot protocol 2.00");
        }

        LinuxKernelImage kernel = new(image);
        if (kernel.Protocol < MinimumProtocol)
        {
            throw new InvalidDataException($"speaks boot protocol {kernel.Protocol >> 8}.{kernel.Protocol & 0xFF:D2}; expected 2.04 or later");
        }

        if ((kernel.LoadFlags & LoadedHigh) == 0)
        {
            throw new InvalidDataException("is a zImage (loadflags LOADED_HIGH clear); expected a bzImage, which loads at 1 MiB");
        }

        if (kernel.SetupBytes >= image.Length)
        {
            throw new InvalidDataException($"declares {kernel.SetupBytes} bytes of setup code, but the file has {image.Length}: no protected-mode kernel follows");
        }

        if (kernel.HeaderEnd > image.Length || kernel.HeaderEnd > 0x290)
        {
            throw new InvalidDataException($"declares a setup header ending at 0x{kernel.HeaderEnd:X}, past the file or boot_params' header area");
        }

        return kernel;
    }
}
