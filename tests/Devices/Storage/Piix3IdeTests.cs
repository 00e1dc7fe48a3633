using System.Buffers.Binary;
using System.Text;
using SplitEmu.DeviceHost.Devices.Storage;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Storage;

public sealed class Piix3IdeTests
{
    private const byte IdentifyDevice = 0xEC;
    private const byte ReadSectors = 0x20;
    private const byte ReadSectorsExt = 0x24;
    private const byte WriteSectors = 0x30;
    private const byte ReadDma = 0xC8;
    private const byte SetMultipleMode = 0xC6;
    private const byte ReadMultiple = 0xC4;

    /// <summary>Where the tests program BAR4, as SeaBIOS does on QEMU.</summary>
    private const uint BusMasterPort = 0xC040;

    /// <summary>Guest-physical address of the PRD table in the fake RAM.</summary>
    private const uint PrdTable = 0x1000;

    // ------------------------------------------------------------------ PCI side

    [Fact]
    public void ConfigSpace_IdentifiesAsPiix3IdeInCompatibilityMode()
    {
        using IdeRig rig = new();

        Assert.Equal(0x7010_8086u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x00, 4));
        Assert.Equal(0x0101_8000u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x08, 4)); // class 01, subclass 01, prog-if 80, rev 0
        Assert.Equal(0x7010u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x02, 2));
        Assert.Equal(0x80u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x09, 1));
        Assert.Equal(0x0280u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x06, 2));
    }

    [Fact]
    public void ConfigSpace_Bar0To3AreNotSizable_Bar4IsA16PortIoBar()
    {
        using IdeRig rig = new();
        for (ulong bar = 0x10; bar <= 0x20; bar += 4)
        {
            rig.Ide.Write(Piix3Ide.ConfigRegion, bar, 4, 0xFFFF_FFFF);
        }

        Assert.Equal(0u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x10, 4));
        Assert.Equal(0u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x1C, 4));
        Assert.Equal(0xFFFF_FFF1u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x20, 4)); // ~(16 - 1) | I/O
        Assert.Empty(rig.Context.MapChanges); // sizing with I/O decoding off maps nothing
    }

    [Fact]
    public void Bar4_ProgrammedAndIoEnabled_MovesThenShowsTheBusMasterRegion_ClearingIoHidesIt()
    {
        using IdeRig rig = new();
        Assert.True(rig.Ide.Regions[Piix3Ide.BusMasterRegion].StartsDisabled);

        rig.Ide.Write(Piix3Ide.ConfigRegion, 0x20, 4, BusMasterPort);
        Assert.Empty(rig.Context.MapChanges);
        rig.Ide.Write(Piix3Ide.ConfigRegion, 0x04, 2, 0x0001);

        Assert.Equal(
            [(Piix3Ide.BusMasterRegion, MapChangeKind.Move, (ulong)BusMasterPort), (Piix3Ide.BusMasterRegion, MapChangeKind.Enable, 0UL)],
            rig.Context.MapChanges);
        Assert.Equal(BusMasterPort | 1u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x20, 4));

        rig.Ide.Write(Piix3Ide.ConfigRegion, 0x04, 2, 0x0000);
        Assert.Equal((Piix3Ide.BusMasterRegion, MapChangeKind.Disable, 0UL), rig.Context.MapChanges[^1]);
        Assert.Equal(3, rig.Context.MapChanges.Count);
    }

    [Fact]
    public void Command_OnlyIoSpaceAndBusMasterBitsAreWritable()
    {
        using IdeRig rig = new();

        rig.Ide.Write(Piix3Ide.ConfigRegion, 0x04, 2, 0xFFFF);

        Assert.Equal(0x0005u, rig.Ide.Read(Piix3Ide.ConfigRegion, 0x04, 2));
    }

    [Fact]
    public void Regions_AreTheLegacyPortsAndTheConfigFunction()
    {
        using IdeRig rig = new();
        IReadOnlyList<DeviceRegionInfo> regions = rig.Ide.Regions;

        Assert.Equal((AddressSpaceKind.PciConfig, PciConfigAddress.Of(0, 1, 1), 256UL), (regions[0].Space, regions[0].Base, regions[0].Size));
        Assert.Equal((0x1F0UL, 8UL), (regions[1].Base, regions[1].Size));
        Assert.Equal((0x3F6UL, 1UL), (regions[2].Base, regions[2].Size));
        Assert.Equal((0x170UL, 8UL), (regions[3].Base, regions[3].Size));
        Assert.Equal((0x376UL, 1UL), (regions[4].Base, regions[4].Size));
        Assert.Equal(16UL, regions[5].Size);
    }

    // ------------------------------------------------------------------ ATA commands

    [Fact]
    public void Identify_ReportsCapacityGeometryAndAByteSwappedModel()
    {
        using IdeRig rig = new();

        rig.SetRegister(6, 0xA0);
        rig.Command(IdentifyDevice);
        Assert.Equal(IdeRig.IdleWithData, rig.Status());
        byte[] id = rig.ReadBlock();

        ushort Word(int i) => BinaryPrimitives.ReadUInt16LittleEndian(id.AsSpan(i * 2));
        Assert.Equal("SPLITEMU HARDDISK", ModelString(id));
        Assert.Equal((byte)'P', id[54]); // "SP": 'S' is the high byte of word 27, so it comes second
        Assert.Equal((byte)'S', id[55]);
        Assert.Equal((8, 16, 63), (Word(1), Word(3), Word(6)));
        Assert.Equal(8192u, Word(60) | ((uint)Word(61) << 16));
        Assert.Equal(8192UL, Word(100) | ((ulong)Word(101) << 16) | ((ulong)Word(102) << 32) | ((ulong)Word(103) << 48));
        Assert.NotEqual(0, Word(83) & (1 << 10)); // LBA48
        Assert.NotEqual(0, Word(49) & (1 << 9));  // LBA
        Assert.Equal(0x07, Word(63) & 0x07);      // multiword DMA 0-2
        Assert.Equal(0x8010, Word(47));           // READ/WRITE MULTIPLE blocks of up to 16 sectors
        Assert.Equal(0x0110, Word(59));           // multiple mode on at 16 from power-on, as drives and QEMU's start
        Assert.Equal(0x3F, Word(88) & 0x3F);      // UDMA 0-5
        Assert.Equal(0, id.Sum(b => b) & 0xFF);   // integrity word
        Assert.Equal(IdeRig.Idle, rig.Status());  // the one block was read: DRQ off
    }

    [Fact]
    public void PioRead_ReturnsTheImageSectorsInOrder()
    {
        using IdeRig rig = new();

        rig.Lba28(5, 2);
        rig.Command(ReadSectors);

        Assert.Equal(IdeRig.IdleWithData, rig.Status());
        Assert.Equal(IdeRig.ExpectedSector(5), rig.ReadBlock());
        Assert.Equal(IdeRig.IdleWithData, rig.Status());
        Assert.Equal(IdeRig.ExpectedSector(6), rig.ReadBlock());
        Assert.Equal(IdeRig.Idle, rig.Status());
    }

    [Fact]
    public void PioRead_WithChsAddress_UsesSixteenHeadsAndSixtyThreeSectors()
    {
        using IdeRig rig = new();

        // Cylinder 0, head 0, sector 3 is LBA 2.
        rig.SetRegister(2, 1);
        rig.SetRegister(3, 3);
        rig.SetRegister(4, 0);
        rig.SetRegister(5, 0);
        rig.SetRegister(6, 0xA0);
        rig.Command(ReadSectors);

        Assert.Equal(IdeRig.ExpectedSector(2), rig.ReadBlock());
    }

    [Fact]
    public void ReadSectorsExt_ReachesASectorBeyondTheLba28Limit()
    {
        // A sparse image of 2^28 + 16 sectors (128 GiB, almost nothing on disk).
        const long lba = (1L << 28) + 5;
        using IdeRig rig = new(("primary-master", (1L << 28) + 16));
        byte[] marker = Encoding.ASCII.GetBytes("beyond LBA28");
        using (FileStream file = new(rig.ImagePath("primary-master"), FileMode.Open, FileAccess.Write))
        {
            file.Position = lba * 512;
            file.Write(marker);
        }

        rig.SetRegister(2, 0);                  // count, high byte
        rig.SetRegister(3, (byte)(lba >> 24));  // LBA bits 24-31
        rig.SetRegister(4, 0);                  // LBA bits 32-39
        rig.SetRegister(5, 0);                  // LBA bits 40-47
        rig.SetRegister(2, 1);                  // count, low byte
        rig.SetRegister(3, unchecked((byte)lba));
        rig.SetRegister(4, unchecked((byte)(lba >> 8)));
        rig.SetRegister(5, unchecked((byte)(lba >> 16)));
        rig.SetRegister(6, 0x40);
        rig.Command(ReadSectorsExt);

        Assert.Equal(IdeRig.IdleWithData, rig.Status());
        Assert.Equal(marker, rig.ReadBlock()[..marker.Length]);
    }

    [Fact]
    public void Hob_ReadsBackThePreviouslyWrittenByte()
    {
        using IdeRig rig = new();

        rig.SetRegister(2, 0x12);
        rig.SetRegister(2, 0x34);
        rig.Control(0x80);

        Assert.Equal(0x12, rig.Register(2));
        rig.Control(0x00);
        Assert.Equal(0x34, rig.Register(2));
    }

    [Fact]
    public void PioWrite_GoesToTheFile_AndReadsBack()
    {
        using IdeRig rig = new();
        byte[] data = new byte[512];
        new Random(42).NextBytes(data);

        rig.Lba28(9, 1);
        rig.Command(WriteSectors);
        Assert.Equal(IdeRig.IdleWithData, rig.Status());
        rig.WriteBlock(data);
        Assert.Equal(IdeRig.Idle, rig.Status());

        using (FileStream file = new(rig.ImagePath("primary-master"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            byte[] onDisk = new byte[512];
            file.Position = 9 * 512;
            file.ReadExactly(onDisk);
            Assert.Equal(data, onDisk);
        }

        rig.Lba28(9, 1);
        rig.Command(ReadSectors);
        Assert.Equal(data, rig.ReadBlock());
    }

    [Fact]
    public void ReadMultiple_RaisesOneInterruptPerBlockOfTheMultipleCount()
    {
        using IdeRig rig = new();
        rig.SetRegister(2, 4);
        rig.Command(SetMultipleMode);
        Assert.Equal(IdeRig.Idle, rig.Status());
        rig.Context.IrqChanges.Clear();

        rig.Lba28(0, 8);
        rig.Command(ReadMultiple);
        for (int sector = 0; sector < 8; sector++)
        {
            if (sector % 4 == 0)
            {
                Assert.Equal(IdeRig.IdleWithData, rig.Status()); // a driver acknowledges each block's interrupt
            }

            Assert.Equal(IdeRig.ExpectedSector(sector), rig.ReadBlock());
        }

        Assert.Equal(2, rig.Context.IrqChanges.Count(c => c is (14, true)));
    }

    [Fact]
    public void ReadMultiple_FromPowerOn_TransfersBlocksOf16Sectors()
    {
        using IdeRig rig = new();
        rig.Context.IrqChanges.Clear();

        rig.Lba28(0, 20);
        rig.Command(ReadMultiple);
        for (int sector = 0; sector < 20; sector++)
        {
            if (sector % 16 == 0)
            {
                Assert.Equal(IdeRig.IdleWithData, rig.Status()); // a driver acknowledges each block's interrupt
            }

            Assert.Equal(IdeRig.ExpectedSector(sector), rig.ReadBlock());
        }

        Assert.Equal(2, rig.Context.IrqChanges.Count(c => c is (14, true))); // 16 + 4 sectors
    }

    [Fact]
    public void ReadBeyondTheEnd_FailsWithIdNotFound()
    {
        using IdeRig rig = new();

        rig.Lba28(8191, 2);
        rig.Command(ReadSectors);

        Assert.Equal(0x51, rig.Status());
        Assert.Equal(0x10, rig.Register(1));
    }

    [Theory]
    [InlineData(0xA1)] // IDENTIFY PACKET DEVICE
    [InlineData(0x08)] // DEVICE RESET
    [InlineData(0xFD)] // unknown
    public void PacketAndUnknownCommands_AbortOnAnAtaDisk(byte command)
    {
        using IdeRig rig = new();

        rig.Command(command);

        Assert.Equal(0x51, rig.Status()); // DRDY | DSC | ERR
        Assert.Equal(0x04, rig.Register(1)); // ABRT
    }

    // ------------------------------------------------------------------ interrupts, reset, absent devices

    [Fact]
    public void Interrupt_IsRaisedOnCompletion_ClearedByStatusButNotByAlternateStatus()
    {
        using IdeRig rig = new();

        rig.Command(0xE5); // CHECK POWER MODE
        Assert.True(rig.Context.IrqLevels[14]);
        rig.AltStatus();
        Assert.True(rig.Context.IrqLevels[14]);
        rig.Status();

        Assert.False(rig.Context.IrqLevels[14]);
        Assert.Equal(0xFF, rig.Register(2));
    }

    [Fact]
    public void Interrupt_IsMaskedByNien_AndDrivenOnceNienClears()
    {
        using IdeRig rig = new();
        rig.Control(0x02);

        rig.Command(0xE7); // FLUSH CACHE
        Assert.False(rig.Context.IrqLevels[14]);
        Assert.DoesNotContain(rig.Context.IrqChanges, c => c.Line == 14 && c.Level);

        rig.Control(0x00);
        Assert.True(rig.Context.IrqLevels[14]);
    }

    [Fact]
    public void SoftwareReset_ShowsBusyThenTheAtaSignature()
    {
        using IdeRig rig = new();
        rig.Lba28(0x123456, 7);

        rig.Control(0x04);
        Assert.Equal(0x80, rig.AltStatus());
        rig.Control(0x00);

        Assert.Equal(IdeRig.Idle, rig.Status());
        Assert.Equal((1, 1, 0, 0, 0), (rig.Register(2), rig.Register(3), rig.Register(4), rig.Register(5), rig.Register(6)));
        Assert.Equal(0x01, rig.Register(1)); // diagnostics passed
    }

    [Fact]
    public void AbsentSlave_ReadsStatusZero_KeepsTaskFileValues_AndIgnoresCommands()
    {
        using IdeRig rig = new();

        rig.SetRegister(6, 0xB0);
        rig.SetRegister(2, 0x55);
        rig.SetRegister(3, 0xAA);
        rig.Command(IdentifyDevice);

        Assert.Equal(0, rig.Status());
        Assert.Equal(0, rig.AltStatus());
        Assert.Equal((0x55, 0xAA, 0xB0), (rig.Register(2), rig.Register(3), rig.Register(6)));
        Assert.DoesNotContain(rig.Context.IrqChanges, c => c.Level);
        rig.SetRegister(6, 0xA0);
        Assert.Equal(IdeRig.Idle, rig.Status()); // the master did not start a transfer
    }

    [Fact]
    public void EmptyChannel_ReadsZeroFromEveryRegister()
    {
        using IdeRig rig = new();

        rig.Ide.Write(Piix3Ide.SecondaryCommandRegion, 6, 1, 0xA0);
        rig.Ide.Write(Piix3Ide.SecondaryCommandRegion, 2, 1, 0x55);

        for (ulong offset = 0; offset < 8; offset++)
        {
            Assert.Equal(0UL, rig.Ide.Read(Piix3Ide.SecondaryCommandRegion, offset, 1));
        }

        Assert.Equal(0UL, rig.Ide.Read(Piix3Ide.SecondaryControlRegion, 0, 1));
    }

    // ------------------------------------------------------------------ bus-master DMA

    [Fact]
    public void ReadDma_FillsMemoryThroughATwoEntryPrdTable()
    {
        using IdeRig rig = new();
        EnableBusMaster(rig);
        WritePrd(rig.Context.Ram, 0, 0x2000, 512, last: false);
        WritePrd(rig.Context.Ram, 1, 0x3000, 512, last: true);
        rig.Ide.Write(Piix3Ide.BusMasterRegion, 4, 4, PrdTable);
        rig.Ide.Write(Piix3Ide.BusMasterRegion, 0, 1, 0x08); // direction: to memory

        rig.Lba28(3, 2);
        rig.Command(ReadDma);
        rig.Ide.Write(Piix3Ide.BusMasterRegion, 0, 1, 0x09); // start

        Assert.Equal(IdeRig.ExpectedSector(3), rig.Context.Ram[0x2000..0x2200]);
        Assert.Equal(IdeRig.ExpectedSector(4), rig.Context.Ram[0x3000..0x3200]);
        Assert.Equal(0x04UL, rig.Ide.Read(Piix3Ide.BusMasterRegion, 2, 1) & 0x07); // interrupt, not active, no error
        Assert.True(rig.Context.IrqLevels[14]);
        Assert.Equal(IdeRig.Idle, rig.Status());
    }

    [Fact]
    public void ReadDma_ToAnAddressOutsideRam_SetsErrorBitsAndRaisesTheIrq()
    {
        using IdeRig rig = new();

        ReadDmaOutsideRam(rig);

        Assert.True(rig.Context.RefusedDma > 0);
        Assert.Equal(0x06UL, rig.Ide.Read(Piix3Ide.BusMasterRegion, 2, 1) & 0x07); // interrupt | error, not active
        Assert.True(rig.Context.IrqLevels[14]);
        Assert.Equal(0x51, rig.Status());
        Assert.Equal(0x04, rig.Register(1));
    }

    [Fact]
    public void BusMasterStatus_ErrorAndInterruptAreWriteOneToClear()
    {
        using IdeRig rig = new();
        ReadDmaOutsideRam(rig);

        rig.Ide.Write(Piix3Ide.BusMasterRegion, 2, 1, 0x06);

        Assert.Equal(0UL, rig.Ide.Read(Piix3Ide.BusMasterRegion, 2, 1) & 0x07);
    }

    // ------------------------------------------------------------------ snapshot, configuration

    [Fact]
    public void Snapshot_TakenMidPioRead_ContinuesWithTheSameDataInANewInstance()
    {
        using IdeRig rig = new();
        rig.Lba28(10, 2);
        rig.Command(ReadSectors);
        byte[] first = new byte[100];
        for (int i = 0; i < first.Length; i += 2)
        {
            ushort word = (ushort)rig.Ide.Read(Piix3Ide.PrimaryCommandRegion, 0, 2);
            first[i] = (byte)word;
            first[i + 1] = (byte)(word >> 8);
        }

        byte[] state = rig.Ide.SaveState();
        rig.Ide.Dispose(); // its process died: its image lock went with it
        FakeDeviceContext context = new("ide-restarted");
        using Piix3Ide restarted = new(
            new DeviceConfig { Id = "ide", Type = Piix3Ide.TypeName, Config = new Dictionary<string, string> { ["primary-master"] = rig.ImagePath("primary-master") } },
            context);
        restarted.RestoreState(state);

        byte[] rest = new byte[1024 - first.Length];
        for (int i = 0; i < rest.Length; i += 2)
        {
            ushort word = (ushort)restarted.Read(Piix3Ide.PrimaryCommandRegion, 0, 2);
            rest[i] = (byte)word;
            rest[i + 1] = (byte)(word >> 8);
        }

        Assert.Equal([.. IdeRig.ExpectedSector(10), .. IdeRig.ExpectedSector(11)], [.. first, .. rest]);
        Assert.Equal(IdeRig.Idle, (byte)restarted.Read(Piix3Ide.PrimaryCommandRegion, 7, 1));
    }

    [Fact]
    public void ImageInUseByAnotherController_IsRefused_AndFreeOnceItIsGone()
    {
        using IdeRig rig = new();
        DeviceConfig second = new() { Id = "ide2", Type = Piix3Ide.TypeName, Config = new Dictionary<string, string> { ["primary-master"] = rig.ImagePath("primary-master") } };

        ArgumentException error = Assert.Throws<ArgumentException>(() => new Piix3Ide(second, new FakeDeviceContext("ide2")));
        Assert.Contains($"disk image '{rig.ImagePath("primary-master")}' is in use by another machine or drive", error.Message, StringComparison.Ordinal);

        rig.Ide.Dispose();
        using Piix3Ide successor = new(second, new FakeDeviceContext("ide2"));
        Assert.NotNull(successor);
    }

    [Fact]
    public void ImageWhoseSizeIsNotAMultipleOf512_IsRejectedNamingTheKeyAndFile()
    {
        using TempFolder folder = new();
        string path = folder.File("odd.img");
        File.WriteAllBytes(path, new byte[1000]);

        ArgumentException e = Assert.Throws<ArgumentException>(() => new Piix3Ide(
            new DeviceConfig { Id = "ide", Type = Piix3Ide.TypeName, Config = new Dictionary<string, string> { ["secondary-slave"] = path } },
            new FakeDeviceContext()));

        Assert.Contains("secondary-slave", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    private static string ModelString(byte[] identify)
    {
        char[] model = new char[40];
        for (int i = 0; i < 40; i++)
        {
            model[i] = (char)identify[54 + (i ^ 1)];
        }

        return new string(model).TrimEnd();
    }

    /// <summary>READ DMA of LBA 0 through a PRD that points far outside the fake RAM.</summary>
    private static void ReadDmaOutsideRam(IdeRig rig)
    {
        EnableBusMaster(rig);
        WritePrd(rig.Context.Ram, 0, 0xF000_0000, 512, last: true);
        rig.Ide.Write(Piix3Ide.BusMasterRegion, 4, 4, PrdTable);
        rig.Ide.Write(Piix3Ide.BusMasterRegion, 0, 1, 0x09);
        rig.Lba28(0, 1);
        rig.Command(ReadDma);
    }

    private static void EnableBusMaster(IdeRig rig)
    {
        rig.Ide.Write(Piix3Ide.ConfigRegion, 0x20, 4, BusMasterPort);
        rig.Ide.Write(Piix3Ide.ConfigRegion, 0x04, 2, 0x0005); // I/O space | bus master
    }

    private static void WritePrd(byte[] ram, int index, uint address, uint bytes, bool last)
    {
        Span<byte> entry = ram.AsSpan((int)PrdTable + (8 * index), 8);
        BinaryPrimitives.WriteUInt32LittleEndian(entry, address);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], (bytes & 0xFFFF) | (last ? 0x8000_0000u : 0));
    }
}
