using System.Buffers.Binary;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Machine;
using SplitEmu.Shared.Boot;
using SplitEmu.Tests.Cpu.Infrastructure;

namespace SplitEmu.Tests.Boot;

/// <summary>
/// What the loader hands a kernel, checked field by field against the 32-bit boot protocol's table: the zero
/// page (boot_params) with the setup header, e820 map, command line and initrd, and the CPU state at entry.
/// </summary>
public sealed class LinuxDirectBootTests : IDisposable
{
    private const ulong RamSize = 64UL << 20;
    private readonly GuestRam _ram = new(RamSize);
    private readonly FakeCpuBus _bus = new(4096);
    private readonly X86Cpu _cpu;

    public LinuxDirectBootTests() => _cpu = new X86Cpu(_bus);

    public void Dispose()
    {
        _ram.Dispose();
        _bus.Dispose();
    }

    private byte[] BootParams => _ram.Read(LinuxDirectBoot.BootParamsAddress, 4096);

    [Fact]
    public void Boot_PutsTheProtectedModeKernelAtCode32Start_AndCopiesTheSetupHeader()
    {
        byte[] image = SyntheticBzImage.Build(kernelBytes: 3000);

        LinuxDirectBoot.Boot(_ram, _cpu, LinuxKernelImage.Parse(image), null, "");

        Assert.Equal(image[1024..], _ram.Read(0x10_0000, 3000));
        // The header as the image has it, except the fields the loader fills in: type_of_loader and cmd_line_ptr.
        byte[] header = image[0x1F1..0x26C];
        header[0x210 - 0x1F1] = 0xFF;
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(0x228 - 0x1F1), LinuxDirectBoot.CommandLineAddress);
        Assert.Equal(header, BootParams[0x1F1..0x26C]);
        Assert.Equal(0, BootParams[0x1EF]);        // sentinel: a boot loader that copied the header cleared it
    }

    [Fact]
    public void Boot_WritesTheCommandLine_AndPointsCmdLinePtrAtIt()
    {
        LinuxDirectBoot.Boot(_ram, _cpu, LinuxKernelImage.Parse(SyntheticBzImage.Build()), null, "console=ttyS0 nokaslr");

        uint pointer = BinaryPrimitives.ReadUInt32LittleEndian(BootParams.AsSpan(0x228));
        Assert.Equal("console=ttyS0 nokaslr\0"u8.ToArray(), _ram.Read(pointer, 22));
    }

    [Fact]
    public void Boot_DescribesRamInE820_WithTheLegacyHoleReserved()
    {
        LinuxDirectBoot.Boot(_ram, _cpu, LinuxKernelImage.Parse(SyntheticBzImage.Build()), null, "");

        byte[] zeroPage = BootParams;
        Assert.Equal(3, zeroPage[0x1E8]);
        var entries = Enumerable.Range(0, 3).Select(i => zeroPage.AsSpan(0x2D0 + i * 20, 20).ToArray())
            .Select(e => (BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt64LittleEndian(e.AsSpan(8)), BinaryPrimitives.ReadUInt32LittleEndian(e.AsSpan(16))))
            .ToArray();
        Assert.Equal((0UL, 0x9FC00UL, 1u), entries[0]);
        Assert.Equal((0x9FC00UL, 0x100000UL - 0x9FC00, 2u), entries[1]);
        Assert.Equal((0x100000UL, RamSize - 0x100000, 1u), entries[2]);
    }

    [Fact]
    public void Boot_LoadsTheInitrdHigh_AndTellsTheKernelWhereAndHowLong()
    {
        byte[] initrd = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 13)).ToArray();

        LinuxDirectBoot.Boot(_ram, _cpu, LinuxKernelImage.Parse(SyntheticBzImage.Build()), initrd, "");

        uint address = BinaryPrimitives.ReadUInt32LittleEndian(BootParams.AsSpan(0x218));
        Assert.Equal((uint)initrd.Length, BinaryPrimitives.ReadUInt32LittleEndian(BootParams.AsSpan(0x21C)));
        Assert.Equal(0u, address % 4096);
        Assert.True(address + (ulong)initrd.Length <= RamSize && address + (ulong)initrd.Length > RamSize - 4096);
        Assert.Equal(initrd, _ram.Read(address, initrd.Length));
    }

    [Fact]
    public void Boot_StartsTheCpuAsTheProtocolRequires()
    {
        LinuxDirectBoot.Boot(_ram, _cpu, LinuxKernelImage.Parse(SyntheticBzImage.Build()), null, "");

        ref CpuState state = ref _cpu.State;
        Assert.Equal(0x10_0000UL, state.Rip);
        Assert.Equal(LinuxDirectBoot.BootParamsAddress, (uint)state.Rsi);
        Assert.Equal((0UL, 0UL, 0UL), (state.Rbx, state.Rbp, state.Rdi));
        Assert.Equal((ushort)0x10, state.Segments[SegmentIndex.CS].Selector);
        foreach (int segment in new[] { SegmentIndex.DS, SegmentIndex.ES, SegmentIndex.SS })
        {
            Assert.Equal((ushort)0x18, state.Segments[segment].Selector);
        }

        Assert.Equal(0u, state.Eflags & EflagsBits.IF);
        Assert.True(state.ProtectedMode);
        Assert.False(state.PagingEnabled);
        // The GDT the selectors name holds flat 4 GiB code and data, as a later segment load will read them.
        Assert.Equal(LinuxDirectBoot.GdtAddress, state.Gdtr.Base);
        Assert.Equal(0x00CF_9B00_0000_FFFFUL, BinaryPrimitives.ReadUInt64LittleEndian(_ram.Read(LinuxDirectBoot.GdtAddress + 0x10, 8)));
        Assert.Equal(0x00CF_9300_0000_FFFFUL, BinaryPrimitives.ReadUInt64LittleEndian(_ram.Read(LinuxDirectBoot.GdtAddress + 0x18, 8)));
    }

    [Fact]
    public void Boot_RefusesACommandLineLongerThanTheKernelTakes()
    {
        string tooLong = new('x', (int)SyntheticBzImage.CmdlineSize + 1);

        Assert.Throws<InvalidDataException>(() => LinuxDirectBoot.Boot(_ram, _cpu, LinuxKernelImage.Parse(SyntheticBzImage.Build()), null, tooLong));
    }
}
