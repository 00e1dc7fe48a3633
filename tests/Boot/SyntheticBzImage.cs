using System.Buffers.Binary;

namespace SplitEmu.Tests.Boot;

/// <summary>
/// A minimal bzImage built field by field from the boot protocol's table (Documentation/arch/x86/boot.rst),
/// so the loader is tested against the specification's offsets and not against a file it has seen.
/// </summary>
internal static class SyntheticBzImage
{
    public const int SetupSectors = 1;
    public const uint InitSize = 0x0100_0000;
    public const uint CmdlineSize = 255;
    public const uint InitrdAddressMax = 0x37FF_FFFF;

    /// <summary>The image: boot sector and one setup sector, then <paramref name="kernelBytes"/> of protected-mode kernel.</summary>
    public static byte[] Build(int kernelBytes = 4096, ushort protocol = 0x020F, byte loadFlags = 0x01, byte setupSectors = SetupSectors)
    {
        byte[] image = new byte[(SetupSectors + 1) * 512 + kernelBytes];
        image[0x1F1] = setupSectors;
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x1FE), 0xAA55);
        image[0x200] = 0xEB;                     // jump over the header
        image[0x201] = 0x6A;                     // header ends at 0x202 + 0x6A = 0x26C
        "HdrS"u8.CopyTo(image.AsSpan(0x202));
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x206), protocol);
        image[0x211] = loadFlags;
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x214), 0x10_0000);   // code32_start
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x22C), InitrdAddressMax);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x230), 0x0100_0000); // kernel_alignment
        image[0x234] = 1;                                                           // relocatable
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x238), CmdlineSize);
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(0x258), 0x0100_0000); // pref_address
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(0x260), InitSize);
        for (int i = (SetupSectors + 1) * 512; i < image.Length; i++)
        {
            image[i] = (byte)(i * 7);
        }

        return image;
    }
}
