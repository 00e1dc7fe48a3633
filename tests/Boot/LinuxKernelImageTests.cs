using SplitEmu.Shared.Boot;

namespace SplitEmu.Tests.Boot;

/// <summary>The bzImage setup header as the 32-bit boot protocol defines it, and the images it refuses.</summary>
public sealed class LinuxKernelImageTests
{
    [Fact]
    public void Parse_ReadsTheFieldsTheLoaderNeeds()
    {
        LinuxKernelImage kernel = LinuxKernelImage.Parse(SyntheticBzImage.Build(kernelBytes: 5000));

        Assert.Equal(1024, kernel.SetupBytes);
        Assert.Equal(5000, kernel.ProtectedModeKernel.Length);
        Assert.Equal((ushort)0x020F, kernel.Protocol);
        Assert.Equal(0x10_0000u, kernel.Code32Start);
        Assert.Equal(SyntheticBzImage.InitrdAddressMax, kernel.InitrdAddressMax);
        Assert.Equal(SyntheticBzImage.CmdlineSize, kernel.CmdlineSize);
        Assert.Equal(0x26C, kernel.HeaderEnd);
        Assert.Equal(0x0100_0000UL + SyntheticBzImage.InitSize, kernel.MemoryNeeded);
    }

    [Fact]
    public void Parse_ZeroSetupSectors_MeansFour()
    {
        byte[] image = SyntheticBzImage.Build(kernelBytes: 8192, setupSectors: 0);

        Assert.Equal(5 * 512, LinuxKernelImage.Parse(image).SetupBytes);
    }

    [Theory]
    [InlineData("truncated", "too short")]
    [InlineData("no-boot-flag", "no boot flag 0xAA55")]
    [InlineData("no-magic", "no \"HdrS\"")]
    [InlineData("protocol-2.03", "boot protocol 2.03; expected 2.04 or later")]
    [InlineData("zimage", "is a zImage")]
    [InlineData("setup-past-end", "no protected-mode kernel follows")]
    public void Parse_RefusesWhatTheProtocolCannotBoot(string damage, string expected)
    {
        byte[] image = damage switch
        {
            "protocol-2.03" => SyntheticBzImage.Build(protocol: 0x0203),
            "zimage" => SyntheticBzImage.Build(loadFlags: 0),
            "setup-past-end" => SyntheticBzImage.Build(kernelBytes: 0, setupSectors: 1),
            _ => SyntheticBzImage.Build(),
        };
        if (damage == "truncated")
        {
            image = image[..0x200];
        }
        else if (damage == "no-boot-flag")
        {
            image[0x1FE] = 0;
        }
        else if (damage == "no-magic")
        {
            image[0x202] = (byte)'X';
        }

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => LinuxKernelImage.Parse(image));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InitrdAddress_IsTheHighestPageBelowRamAndTheKernelsLimit_AboveItsWorkingMemory()
    {
        LinuxKernelImage kernel = LinuxKernelImage.Parse(SyntheticBzImage.Build());

        Assert.Equal(0x0400_0000u - 0x2000u, kernel.InitrdAddress(ramSize: 0x0400_0000, length: 0x1800)); // 64 MiB: page aligned down
        Assert.Equal(0x3800_0000u - 0x1000u, kernel.InitrdAddress(ramSize: 0x8000_0000, length: 10));      // capped by initrd_addr_max
        Assert.Null(kernel.InitrdAddress(ramSize: 0x0200_0000, length: 0x1000));                            // 32 MiB: the kernel needs it all
        Assert.Null(kernel.InitrdAddress(ramSize: 0x0400_0000, length: 0));
    }
}
