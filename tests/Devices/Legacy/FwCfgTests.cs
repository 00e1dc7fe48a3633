using System.Buffers.Binary;
using System.Text;
using SplitEmu.DeviceHost.Devices.Firmware;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Legacy;

public sealed class FwCfgTests
{
    private const ulong MiB = 1UL << 20;

    // Guest addresses in the fake machine's 1 MiB of RAM.
    private const ulong AccessAddress = 0x1000;
    private const ulong BufferAddress = 0x2000;

    private static readonly Dictionary<string, string> s_serconAndBootOrder = new()
    {
        [FwCfg.SerconPortKey] = "0x3f8",
        [FwCfg.BootOrderKey] = "/pci@i0cf8/*@1,1/drive@0/disk@0\nHALT",
    };

    private readonly FakeDeviceContext _context = new();
    private readonly FwCfg _fwCfg;

    public FwCfgTests()
    {
        _fwCfg = new FwCfg(new DeviceConfig { Type = FwCfg.TypeName, Config = s_serconAndBootOrder }, _context);
    }

    [Fact]
    public void Signature_ReadsQemuThroughTheDataPort()
    {
        Select(_fwCfg, FwCfg.SignatureKey);

        Assert.Equal("QEMU"u8.ToArray(), ReadData(_fwCfg, 4));
    }

    [Fact]
    public void Id_AnnouncesTheTraditionalAndDmaInterfaces()
    {
        Select(_fwCfg, FwCfg.IdKey);

        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(ReadData(_fwCfg, 4)));
    }

    [Fact]
    public void RamSizeAndCpuCounts_ComeFromTheMachine()
    {
        FwCfg fwCfg = new(new DeviceConfig { Type = FwCfg.TypeName }, new MachineFactsContext(new MachineFacts(64 * MiB, CpuCount: 2)));

        Select(fwCfg, FwCfg.RamSizeKey);
        ulong ram = BinaryPrimitives.ReadUInt64LittleEndian(ReadData(fwCfg, 8));
        Select(fwCfg, FwCfg.CpuCountKey);
        ushort cpus = BinaryPrimitives.ReadUInt16LittleEndian(ReadData(fwCfg, 2));
        Select(fwCfg, FwCfg.MaxCpusKey);
        ushort maxCpus = BinaryPrimitives.ReadUInt16LittleEndian(ReadData(fwCfg, 2));

        Assert.Equal(64 * MiB, ram);
        Assert.Equal(2, cpus);
        Assert.Equal(2, maxCpus);
    }

    [Fact]
    public void FileDirectory_ListsTheFilesInNameOrderFromSelector20()
    {
        Select(_fwCfg, FwCfg.FileDirKey);
        uint count = BinaryPrimitives.ReadUInt32BigEndian(ReadData(_fwCfg, 4));
        List<(string Name, ushort Select, uint Size)> files = [];
        for (int i = 0; i < count; i++)
        {
            byte[] entry = ReadData(_fwCfg, FwCfg.FileEntrySize);
            string name = Encoding.ASCII.GetString(entry, 8, 56).TrimEnd('\0');
            files.Add((name, BinaryPrimitives.ReadUInt16BigEndian(entry.AsSpan(4)), BinaryPrimitives.ReadUInt32BigEndian(entry)));
        }

        Assert.Equal(
            [("bootorder", 0x20, 38), ("etc/e820", 0x21, 20), ("etc/sercon-port", 0x22, 2)],
            files);
    }

    [Fact]
    public void E820_IsOneRamEntryFor64MiB_AsQemu72Reports()
    {
        FwCfg fwCfg = new(new DeviceConfig { Type = FwCfg.TypeName }, new MachineFactsContext(new MachineFacts(64 * MiB)));
        Select(fwCfg, FwCfg.FirstFileKey); // etc/e820 is the only file

        byte[] table = ReadData(fwCfg, FwCfg.E820EntrySize);

        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(table));
        Assert.Equal(0x0400_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(8)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(table.AsSpan(16)));
        Assert.Equal(0, ReadData(fwCfg, 1)[0]); // past the end reads 0
    }

    [Fact]
    public void E820_PutsRamBeyond4GiBAbove4GiB()
    {
        byte[] table = FwCfg.BuildE820(6UL << 30);

        Assert.Equal(2 * FwCfg.E820EntrySize, table.Length);
        Assert.Equal(4UL << 30, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(8)));
        Assert.Equal(4UL << 30, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(20)));
        Assert.Equal(2UL << 30, BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(28)));
    }

    [Fact]
    public void SerconPort_IsAWordWithThePort()
    {
        Select(_fwCfg, 0x22);

        Assert.Equal(new byte[] { 0xF8, 0x03 }, ReadData(_fwCfg, 2));
    }

    [Fact]
    public void BootOrder_EndsEachEntryWithANewlineAndTheWholeWithANul()
    {
        Select(_fwCfg, 0x20);

        Assert.Equal("/pci@i0cf8/*@1,1/drive@0/disk@0\nHALT\n\0", Encoding.ASCII.GetString(ReadData(_fwCfg, 38)));
    }

    [Fact]
    public void Files_AreAbsentWithoutTheirConfigKeys()
    {
        FwCfg fwCfg = new(new DeviceConfig { Type = FwCfg.TypeName }, _context);

        Assert.Equal(["etc/e820"], fwCfg.FileNames);
    }

    [Fact]
    public void Dma_SelectAndReadCopiesTheFileAndClearsControl()
    {
        WriteAccess(((uint)0x21 << 16) | FwCfg.DmaSelect | FwCfg.DmaRead, FwCfg.E820EntrySize, BufferAddress);

        StartDma(_fwCfg, AccessAddress);

        Assert.Equal(0u, ControlAt(AccessAddress));
        Assert.Equal(MiB, BinaryPrimitives.ReadUInt64LittleEndian(_context.Ram.AsSpan((int)BufferAddress + 8)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(_context.Ram.AsSpan((int)BufferAddress + 16)));
    }

    [Fact]
    public void Dma_ReadWithoutSelectContinuesWhereTheDataPortLeftOff()
    {
        Select(_fwCfg, FwCfg.FileDirKey);
        ReadData(_fwCfg, 4); // the count, as SeaBIOS reads it before the entries
        WriteAccess(FwCfg.DmaRead, FwCfg.FileEntrySize, BufferAddress);

        StartDma(_fwCfg, AccessAddress);

        Assert.Equal("bootorder", Encoding.ASCII.GetString(_context.Ram, (int)BufferAddress + 8, 9));
    }

    [Fact]
    public void Dma_SkipMovesTheOffset()
    {
        Select(_fwCfg, 0x21); // etc/e820
        WriteAccess(FwCfg.DmaSkip, 8, 0);
        StartDma(_fwCfg, AccessAddress);

        byte[] length = ReadData(_fwCfg, 8);

        Assert.Equal(0u, ControlAt(AccessAddress));
        Assert.Equal(MiB, BinaryPrimitives.ReadUInt64LittleEndian(length));
    }

    [Fact]
    public void Dma_ReadPastTheEndFillsZeros()
    {
        _context.Ram.AsSpan((int)BufferAddress, 8).Fill(0xFF);
        WriteAccess(((uint)0x22 << 16) | FwCfg.DmaSelect | FwCfg.DmaRead, 8, BufferAddress);

        StartDma(_fwCfg, AccessAddress);

        Assert.Equal(new byte[] { 0xF8, 0x03, 0, 0, 0, 0, 0, 0 }, _context.Ram.AsSpan((int)BufferAddress, 8).ToArray());
    }

    [Fact]
    public void Dma_TargetOutsideRamSetsTheErrorBit()
    {
        WriteAccess(((uint)0x21 << 16) | FwCfg.DmaSelect | FwCfg.DmaRead, FwCfg.E820EntrySize, 0x4000_0000);

        StartDma(_fwCfg, AccessAddress);

        Assert.Equal(FwCfg.DmaError, ControlAt(AccessAddress));
        Assert.Equal(1, _fwCfg.DmaErrors);
    }

    [Fact]
    public void Dma_WriteIsRefusedWithTheErrorBit()
    {
        WriteAccess(((uint)0x21 << 16) | FwCfg.DmaSelect | FwCfg.DmaWrite, 4, BufferAddress);

        StartDma(_fwCfg, AccessAddress);

        Assert.Equal(FwCfg.DmaError, ControlAt(AccessAddress));
    }

    [Fact]
    public void Dma_OneSixtyFourBitWriteStartsTheTransfer()
    {
        WriteAccess(((uint)FwCfg.SignatureKey << 16) | FwCfg.DmaSelect | FwCfg.DmaRead, 4, BufferAddress);

        _fwCfg.Write(FwCfg.DmaRegion, 0, 8, BinaryPrimitives.ReverseEndianness(AccessAddress));

        Assert.Equal("QEMU"u8.ToArray(), _context.Ram.AsSpan((int)BufferAddress, 4).ToArray());
    }

    [Fact]
    public void Dma_HighHalfAloneStartsNothing()
    {
        WriteAccess(((uint)FwCfg.SignatureKey << 16) | FwCfg.DmaSelect | FwCfg.DmaRead, 4, BufferAddress);

        _fwCfg.Write(FwCfg.DmaRegion, 0, 4, 0);

        Assert.Equal(0, _context.Ram[(int)BufferAddress]);
    }

    [Fact]
    public void DmaRegister_ReadsTheDmaSignature() =>
        Assert.Equal("QEMU CFG"u8.ToArray(), BitConverter.GetBytes(_fwCfg.Read(FwCfg.DmaRegion, 0, 8)));

    [Fact]
    public void SnapshotRestore_KeepsTheSelectedItemAndOffset()
    {
        Select(_fwCfg, FwCfg.SignatureKey);
        ReadData(_fwCfg, 2);
        FwCfg restarted = new(new DeviceConfig { Type = FwCfg.TypeName, Config = s_serconAndBootOrder }, new FakeDeviceContext());

        restarted.RestoreState(_fwCfg.SaveState());

        Assert.Equal("MU"u8.ToArray(), ReadData(restarted, 2));
    }

    private static void Select(FwCfg fwCfg, ushort key) => fwCfg.Write(FwCfg.ControlRegion, 0, 2, key);

    private static byte[] ReadData(FwCfg fwCfg, int count)
    {
        byte[] bytes = new byte[count];
        for (int i = 0; i < count; i++)
        {
            bytes[i] = (byte)fwCfg.Read(FwCfg.ControlRegion, 1, 1);
        }

        return bytes;
    }

    /// <summary>Starts a transfer as SeaBIOS does: high half 0, then the low half (both big-endian), with outl.</summary>
    private static void StartDma(FwCfg fwCfg, ulong address)
    {
        fwCfg.Write(FwCfg.DmaRegion, 0, 4, BinaryPrimitives.ReverseEndianness((uint)(address >> 32)));
        fwCfg.Write(FwCfg.DmaRegion, 4, 4, BinaryPrimitives.ReverseEndianness((uint)address));
    }

    private void WriteAccess(uint control, uint length, ulong address)
    {
        Span<byte> access = _context.Ram.AsSpan((int)AccessAddress, 16);
        BinaryPrimitives.WriteUInt32BigEndian(access, control);
        BinaryPrimitives.WriteUInt32BigEndian(access[4..], length);
        BinaryPrimitives.WriteUInt64BigEndian(access[8..], address);
    }

    private uint ControlAt(ulong address) => BinaryPrimitives.ReadUInt32BigEndian(_context.Ram.AsSpan((int)address));
}
