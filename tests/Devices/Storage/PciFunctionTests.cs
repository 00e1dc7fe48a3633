using SplitEmu.DeviceHost.Devices.Pci;
using SplitEmu.DeviceHost.Sdk.Pci;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices.Storage;

/// <summary>The PCI configuration space the IDE controller is built on, and the ISA bridge it sits behind.</summary>
public sealed class PciFunctionTests
{
    [Fact]
    public void ConfigSpace_SubDwordAccesses_ReadAndWriteTheRightBytes()
    {
        PciConfigSpace config = new(0x1234, 0x5678, 0x01, 0x02, 0x03, 0x04);
        config.DefineRegister(0x40, 4, 0, 0xFFFF_FFFF);

        config.Write(0x42, 2, 0xBEEF);
        config.Write(0x41, 1, 0x7A);

        Assert.Equal(0xBEEF_7A00u, config.Read(0x40, 4));
        Assert.Equal(0x5678u, config.Read(0x02, 2));
        Assert.Equal(0x02u, config.Read(0x0B, 1));
    }

    [Fact]
    public void ConfigSpace_StatusErrorBitsAreWriteOneToClear_OthersReadOnly()
    {
        PciConfigSpace config = new(0x1234, 0x5678, 0, 0, 0, 0);
        config.DefineStatus(0x0280);
        config.SetStatusBits(0x3000);

        config.Write(PciConfigSpace.StatusOffset, 2, 0x1000 | 0x0080);

        Assert.Equal(0x2280u, config.Read(PciConfigSpace.StatusOffset, 2));
    }

    [Fact]
    public void ConfigSpace_MemoryBarSizing_KeepsTypeBits_AndReportsTheChange()
    {
        PciConfigSpace config = new(0x1234, 0x5678, 0, 0, 0, 0);
        config.DefineBar(1, PciBarKind.Memory32, 0x1000, prefetchable: true);

        PciConfigChanges changes = config.Write(0x14, 4, 0xFFFF_FFFF);

        Assert.Equal(0xFFFF_F008u, config.Read(0x14, 4));
        Assert.Equal(PciConfigChanges.Bar1, changes);
        Assert.Equal(PciConfigChanges.None, config.Write(0x14, 4, 0xFFFF_FFFF));
    }

    [Fact]
    public void ConfigSpace_IoBar_DecodesOnlyWhenEnabledNonZeroAndInsideTheIoSpace()
    {
        PciConfigSpace config = new(0x1234, 0x5678, 0, 0, 0, 0);
        config.DefineCommand(PciConfigSpace.CommandIoSpace);
        config.DefineBar(0, PciBarKind.Io, 16);

        config.Write(0x10, 4, 0xC040);
        bool beforeEnable = config.TryGetDecodedBar(0, out _);
        config.Write(PciConfigSpace.CommandOffset, 2, 1);
        bool afterEnable = config.TryGetDecodedBar(0, out ulong address);
        config.Write(0x10, 4, 0xFFFF_FFFF);

        Assert.False(beforeEnable);
        Assert.True(afterEnable);
        Assert.Equal(0xC040UL, address);
        Assert.False(config.TryGetDecodedBar(0, out _));
    }

    [Fact]
    public void IsaBridge_IsMultiFunctionPiix3_WithPirqRoutesDisabledAndWritable()
    {
        Piix3IsaBridge bridge = new(new DeviceConfig { Id = "isa", Type = Piix3IsaBridge.TypeName }, new FakeDeviceContext());

        Assert.Equal(0x7000_8086u, bridge.Read(0, 0x00, 4));
        Assert.Equal(0x0601_0000u, bridge.Read(0, 0x08, 4));
        Assert.Equal(0x80u, bridge.Read(0, 0x0E, 1));
        Assert.Equal(0x8080_8080u, bridge.Read(0, 0x60, 4));

        bridge.Write(0, 0x60, 1, 10);
        bridge.Write(0, 0x63, 1, 11);

        Assert.Equal(0x0B80_800Au, bridge.Read(0, 0x60, 4));
        Assert.Equal(10, bridge.PirqRoute(0));
        Assert.Null(bridge.PirqRoute(1));
        Assert.Equal(PciConfigAddress.Of(0, 1, 0), bridge.Regions[0].Base);
    }

    [Fact]
    public void IsaBridge_CommandKeepsItsHardwiredBits_AndStateSurvivesASnapshot()
    {
        Piix3IsaBridge bridge = new(new DeviceConfig { Id = "isa", Type = Piix3IsaBridge.TypeName }, new FakeDeviceContext());
        bridge.Write(0, 0x04, 2, 0x0103); // what SeaBIOS writes: I/O, memory, SERR#
        bridge.Write(0, 0x69, 1, 0x40);
        Piix3IsaBridge restored = new(new DeviceConfig { Id = "isa", Type = Piix3IsaBridge.TypeName }, new FakeDeviceContext());

        restored.RestoreState(bridge.SaveState());

        Assert.Equal(0x0107u, restored.Read(0, 0x04, 2));
        Assert.Equal(0x40u, restored.Read(0, 0x69, 1));
    }
}
