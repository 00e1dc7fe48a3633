using SplitEmu.CpuHost.Platform;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Tests.Platform;

/// <summary>
/// The I/O APIC through IOREGSEL/IOWIN (82093AA data sheet), delivering to a bus of two software-enabled local
/// APICs. Entries are written low dword last, as an unmasking guest does, unless the test is about the order.
/// </summary>
public sealed class IoApicTests
{
    private const uint Fixed = 0 << 8;
    private const uint Level = 1 << 15;
    private const uint Mask = 1 << 16;
    private const uint LogicalMode = 1 << 11;

    private readonly ApicRig _rig = new ApicRig(2).Enabled();
    private readonly IoApic _ioApic;

    public IoApicTests() => _ioApic = new IoApic(_rig.Bus, id: 2);

    private LocalApic Apic0 => _rig.Apics[0];

    private LocalApic Apic1 => _rig.Apics[1];

    private void WriteIndirect(byte index, uint value)
    {
        _ioApic.Write(0, IoApic.RegisterSelectOffset, 4, index);
        _ioApic.Write(0, IoApic.WindowOffset, 4, value);
    }

    private uint ReadIndirect(byte index)
    {
        _ioApic.Write(0, IoApic.RegisterSelectOffset, 4, index);
        return (uint)_ioApic.Read(0, IoApic.WindowOffset, 4);
    }

    private void Program(int pin, uint low, byte destination = 0)
    {
        WriteIndirect((byte)(IoApic.RedirectionTableBase + (2 * pin) + 1), (uint)destination << 24);
        WriteIndirect((byte)(IoApic.RedirectionTableBase + (2 * pin)), low);
    }

    /// <summary>What the guest's handler does: take the interrupt, then EOI.</summary>
    private static byte Serve(LocalApic apic)
    {
        byte vector = apic.AcknowledgeInterrupt();
        apic.WriteRegister(LocalApic.Registers.Eoi, 0);
        return vector;
    }

    [Fact]
    public void Region_IsTheQemuSizedPageAtFec00000_OfOneToFourByteAccesses()
    {
        Assert.Equal(
            [new DeviceRegionInfo("ioapic", AddressSpaceKind.Memory, 0xFEC0_0000, 0x1000, MinAccessSize: 1, MaxAccessSize: 4)],
            _ioApic.Regions);
    }

    [Fact]
    public void IdVersionAndArbitration_ReadAsProgrammed()
    {
        uint id = ReadIndirect(IoApic.IdRegister);
        WriteIndirect(IoApic.IdRegister, 0xFF00_0000);

        Assert.Equal(0x0200_0000u, id);
        Assert.Equal(0x0F00_0000u, ReadIndirect(IoApic.IdRegister)); // a 4-bit ID
        Assert.Equal(0x0017_0011u, ReadIndirect(IoApic.VersionRegister));
        Assert.Equal(0x0F00_0000u, ReadIndirect(IoApic.ArbitrationRegister));
    }

    [Fact]
    public void VersionRegister_IgnoresWrites()
    {
        WriteIndirect(IoApic.VersionRegister, 0);

        Assert.Equal(IoApic.Version, ReadIndirect(IoApic.VersionRegister));
    }

    [Fact]
    public void PowerOn_EveryEntryIsMasked()
    {
        Assert.All(Enumerable.Range(0, IoApic.PinCount), pin => Assert.Equal(IoApic.Masked, _ioApic.RedirectionEntry(pin)));
        Assert.Equal(0x10000u, ReadIndirect(IoApic.RedirectionTableBase + 46));
        Assert.Equal(0u, ReadIndirect(IoApic.RedirectionTableBase + 47));
    }

    [Fact]
    public void RedirectionEntry_KeepsItsWritableBits_StatusAndRemoteIrrAreReadOnly()
    {
        Program(5, 0xFFFF_FFFF & ~Level, destination: 0xAB); // edge, so no Remote IRR can appear

        Assert.Equal(0x0001_2FFFu, ReadIndirect(IoApic.RedirectionTableBase + 10));
        Assert.Equal(0xAB00_0000u, ReadIndirect(IoApic.RedirectionTableBase + 11));
    }

    [Fact]
    public void Ioregsel_ReadsBack_AndTakesAByteWrite()
    {
        _ioApic.Write(0, IoApic.RegisterSelectOffset, 1, IoApic.VersionRegister);

        Assert.Equal(1UL, _ioApic.Read(0, IoApic.RegisterSelectOffset, 4));
        Assert.Equal(0x11UL, _ioApic.Read(0, IoApic.WindowOffset, 1));
        Assert.Equal(0x17UL, _ioApic.Read(0, IoApic.WindowOffset + 2, 1));
    }

    [Fact]
    public void Iowin_NarrowWrites_AreIgnored()
    {
        _ioApic.Write(0, IoApic.RegisterSelectOffset, 4, IoApic.RedirectionTableBase);

        _ioApic.Write(0, IoApic.WindowOffset, 1, 0x31);

        Assert.Equal(IoApic.Masked, _ioApic.RedirectionEntry(0));
    }

    [Fact]
    public void EdgeEntry_RisingEdgeDeliversOnce()
    {
        Program(1, Fixed | 0x31, destination: 1);

        _ioApic.SetLine(1, true);
        _ioApic.SetLine(1, true); // still high: no new edge
        byte first = Apic1.AcknowledgeInterrupt();
        bool again = Apic1.HasPendingInterrupt;

        Assert.Equal(0x31, first);
        Assert.False(again);
        Assert.False(Apic0.HasPendingInterrupt);
        Assert.False(ApicRig.Bit(Apic1, LocalApic.Registers.Tmr, 0x31));
    }

    [Fact]
    public void EdgeEntry_EachRisingEdgeDelivers()
    {
        Program(1, Fixed | 0x31, destination: 1);

        _ioApic.SetLine(1, true);
        _ioApic.SetLine(1, false);
        byte first = Serve(Apic1);
        _ioApic.SetLine(1, true);
        byte second = Serve(Apic1);

        Assert.Equal(0x31, first);
        Assert.Equal(0x31, second);
    }

    [Fact]
    public void EdgeOnAMaskedPin_IsDropped_NotHeldForTheUnmask()
    {
        Program(3, Fixed | Mask | 0x33);
        _ioApic.SetLine(3, true);
        _ioApic.SetLine(3, false);

        Program(3, Fixed | 0x33);

        Assert.False(Apic0.HasPendingInterrupt);
    }

    [Fact]
    public void LevelEntry_DeliversOnce_SetsRemoteIrr_AndTheTmrBit()
    {
        Program(9, Level | 0x39);

        _ioApic.SetLine(9, true);
        byte vector = Apic0.AcknowledgeInterrupt();

        Assert.Equal(0x39, vector);
        Assert.NotEqual(0UL, _ioApic.RedirectionEntry(9) & IoApic.RemoteIrr);
        Assert.True(ApicRig.Bit(Apic0, LocalApic.Registers.Tmr, 0x39));
        Assert.False(Apic0.HasPendingInterrupt);
    }

    [Fact]
    public void LevelEntry_EoiWhileStillAsserted_ClearsRemoteIrrAndDeliversAgain()
    {
        Program(9, Level | 0x39);
        _ioApic.SetLine(9, true);

        byte first = Serve(Apic0);
        bool redelivered = Apic0.HasPendingInterrupt;
        byte second = Apic0.AcknowledgeInterrupt();

        Assert.Equal(0x39, first);
        Assert.True(redelivered);
        Assert.Equal(0x39, second);
        Assert.NotEqual(0UL, _ioApic.RedirectionEntry(9) & IoApic.RemoteIrr);
    }

    [Fact]
    public void LevelEntry_EoiAfterTheLineFell_ClearsRemoteIrrOnly()
    {
        Program(9, Level | 0x39);
        _ioApic.SetLine(9, true);
        Apic0.AcknowledgeInterrupt();

        _ioApic.SetLine(9, false); // the handler quietened the device
        Apic0.WriteRegister(LocalApic.Registers.Eoi, 0);

        Assert.Equal(0UL, _ioApic.RedirectionEntry(9) & IoApic.RemoteIrr);
        Assert.False(Apic0.HasPendingInterrupt);
    }

    [Fact]
    public void LevelEntry_NoSecondMessageWhileRemoteIrrIsSet()
    {
        Program(9, Level | 0x39);
        _ioApic.SetLine(9, true);
        Apic0.AcknowledgeInterrupt();

        _ioApic.SetLine(9, false);
        _ioApic.SetLine(9, true);

        Assert.False(ApicRig.Bit(Apic0, LocalApic.Registers.Irr, 0x39));
    }

    [Fact]
    public void EdgeEoi_DoesNotTouchRemoteIrrOfALevelEntryWithAnotherVector()
    {
        Program(9, Level | 0x39);
        Program(1, Fixed | 0x51);
        _ioApic.SetLine(9, true);
        Apic0.AcknowledgeInterrupt();
        _ioApic.SetLine(1, true);

        Serve(Apic0); // 0x51, edge: no EOI broadcast

        Assert.NotEqual(0UL, _ioApic.RedirectionEntry(9) & IoApic.RemoteIrr);
    }

    [Fact]
    public void MaskedLevelEntry_DeliversWhenUnmasked_IfTheLineIsStillAsserted()
    {
        Program(10, Level | Mask | 0x3A);
        _ioApic.SetLine(10, true);
        bool pendingWhileMasked = Apic0.HasPendingInterrupt;

        Program(10, Level | 0x3A);

        Assert.False(pendingWhileMasked);
        Assert.Equal(0x3A, Apic0.AcknowledgeInterrupt());
    }

    [Fact]
    public void SwitchingToEdge_ClearsRemoteIrr()
    {
        Program(9, Level | 0x39);
        _ioApic.SetLine(9, true);
        Apic0.AcknowledgeInterrupt();

        Program(9, Mask | 0x39);

        Assert.Equal(0UL, _ioApic.RedirectionEntry(9) & IoApic.RemoteIrr);
    }

    [Fact]
    public void LogicalDestination_ReachesTheApicWithThatLdrBit()
    {
        Apic0.WriteRegister(LocalApic.Registers.Ldr, 0x0100_0000);
        Apic1.WriteRegister(LocalApic.Registers.Ldr, 0x0200_0000);
        Program(4, LogicalMode | 0x34, destination: 0x02);

        _ioApic.SetLine(4, true);

        Assert.False(Apic0.HasPendingInterrupt);
        Assert.Equal(0x34, Apic1.AcknowledgeInterrupt());
    }

    [Fact]
    public void NmiEntry_RaisesAnNmi()
    {
        Program(6, (uint)ApicDeliveryMode.Nmi << 8, destination: 1);

        _ioApic.SetLine(6, true);

        Assert.Equal(1, _rig.Cpus[1].Nmis);
        Assert.Equal(0, _rig.Cpus[0].Nmis);
    }

    [Fact]
    public void ExtIntEntry_MakesTheApicAskThe8259()
    {
        var pic = new FakeExternalPic(0x08) { Requesting = true };
        _rig.Bus.ExternalInterruptSource = pic;
        Apic0.WriteRegister(LocalApic.Registers.LvtLint0, LocalApic.LvtMasked); // only the message may open the path
        bool pendingBefore = Apic0.HasPendingInterrupt;
        Program(0, (uint)ApicDeliveryMode.ExtInt << 8);

        _ioApic.SetLine(0, true);

        Assert.False(pendingBefore);
        Assert.True(Apic0.HasPendingInterrupt);
        Assert.Equal(0x08, Apic0.AcknowledgeInterrupt());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(24)]
    [InlineData(int.MaxValue)]
    public void PinOutsideTheTable_IsIgnored(int pin)
    {
        Program(0, Fixed | 0x30);

        _ioApic.SetLine(pin, true);

        Assert.False(Apic0.HasPendingInterrupt);
    }

    [Fact]
    public void Reset_MasksEveryEntryAgain_AndRestoresTheId()
    {
        Program(2, Fixed | 0x32);
        WriteIndirect(IoApic.IdRegister, 0x0500_0000);

        _ioApic.Reset();

        Assert.Equal(IoApic.Masked, _ioApic.RedirectionEntry(2));
        Assert.Equal(0x0200_0000u, ReadIndirect(IoApic.IdRegister));
    }
}
