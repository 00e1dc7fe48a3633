using System.Diagnostics;
using SplitEmu.CpuHost.Platform;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Platform;

/// <summary>
/// The 8259A pair, driven through its ports the way a PC BIOS programs it (master vectors 0x08, slave vectors
/// 0x70, slave on IR2). Commands are the data sheet's: ICW1 0x11 (edge, cascade, ICW4 follows), OCW2 0x20
/// (non-specific EOI), OCW3 0x0A/0x0B (read IRR/ISR), 0x0C (poll), 0x68/0x48 (special mask mode on/off).
/// </summary>
public sealed class DualPic8259Tests
{
    private const ushort MasterCommand = 0x20;
    private const ushort MasterData = 0x21;
    private const ushort SlaveCommand = 0xA0;
    private const ushort SlaveData = 0xA1;
    private const ushort ElcrMaster = 0x4D0;
    private const ushort ElcrSlave = 0x4D1;

    private const byte NonSpecificEoi = 0x20;
    private const byte ReadIrr = 0x0A;
    private const byte ReadIsr = 0x0B;
    private const byte Poll = 0x0C;

    private int _callbacks;

    private DualPic8259 NewPic() => new(() => Interlocked.Increment(ref _callbacks));

    /// <summary>A PIC programmed as SeaBIOS does it; <paramref name="icw4"/> 0x03 adds automatic EOI.</summary>
    private DualPic8259 NewProgrammedPic(byte icw4 = 0x01)
    {
        DualPic8259 pic = NewPic();
        Out(pic, MasterCommand, 0x11);
        Out(pic, MasterData, 0x08);
        Out(pic, MasterData, 0x04);
        Out(pic, MasterData, icw4);
        Out(pic, SlaveCommand, 0x11);
        Out(pic, SlaveData, 0x70);
        Out(pic, SlaveData, 0x02);
        Out(pic, SlaveData, icw4);
        return pic;
    }

    private static (int Region, ulong Offset) Decode(ushort port) => port switch
    {
        MasterCommand or MasterData => (DualPic8259.MasterRegion, (ulong)(port - MasterCommand)),
        SlaveCommand or SlaveData => (DualPic8259.SlaveRegion, (ulong)(port - SlaveCommand)),
        ElcrMaster or ElcrSlave => (DualPic8259.ElcrRegion, (ulong)(port - ElcrMaster)),
        _ => throw new ArgumentOutOfRangeException(nameof(port)),
    };

    private static void Out(DualPic8259 pic, ushort port, byte value)
    {
        (int region, ulong offset) = Decode(port);
        pic.Write(region, offset, 1, value);
    }

    private static byte In(DualPic8259 pic, ushort port)
    {
        (int region, ulong offset) = Decode(port);
        return (byte)pic.Read(region, offset, 1);
    }

    private static byte ReadRegister(DualPic8259 pic, ushort commandPort, byte ocw3)
    {
        Out(pic, commandPort, ocw3);
        return In(pic, commandPort);
    }

    private static void Pulse(DualPic8259 pic, int irq)
    {
        pic.SetLine(irq, true);
        pic.SetLine(irq, false);
    }

    [Fact]
    public void Regions_AreTheMasterSlaveAndElcrPortPairs_OfByteWidePorts()
    {
        DualPic8259 pic = NewPic();

        Assert.Equal(
            [
                new DeviceRegionInfo("master", AddressSpaceKind.Io, 0x20, 2, MinAccessSize: 1, MaxAccessSize: 1),
                new DeviceRegionInfo("slave", AddressSpaceKind.Io, 0xA0, 2, MinAccessSize: 1, MaxAccessSize: 1),
                new DeviceRegionInfo("elcr", AddressSpaceKind.Io, 0x4D0, 2, MinAccessSize: 1, MaxAccessSize: 1),
            ],
            pic.Regions);
    }

    [Fact]
    public void NoLineRaised_NothingIsPending()
    {
        DualPic8259 pic = NewProgrammedPic();

        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void RaisedMasterLine_IsPendingAndAcknowledgesWithItsVector()
    {
        DualPic8259 pic = NewProgrammedPic();

        pic.SetLine(1, true);

        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(1, _callbacks);
        Assert.Equal(0x09, pic.AcknowledgeInterrupt());
        Assert.Equal(0x02, ReadRegister(pic, MasterCommand, ReadIsr));
        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIrr));
    }

    [Fact]
    public void Icw2_LowThreeBitsAreIgnored()
    {
        DualPic8259 pic = NewPic();
        Out(pic, MasterCommand, 0x11);
        Out(pic, MasterData, 0x23); // base 0x20
        Out(pic, MasterData, 0x04);
        Out(pic, MasterData, 0x01);

        pic.SetLine(5, true);

        Assert.Equal(0x25, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void AfterReset_UnprogrammedPairUsesBiosVectors()
    {
        DualPic8259 pic = NewPic();
        pic.Reset();

        pic.SetLine(0, true);
        byte timer = pic.AcknowledgeInterrupt();
        Out(pic, MasterCommand, NonSpecificEoi);
        pic.SetLine(9, true);
        byte slaveLine = pic.AcknowledgeInterrupt();

        Assert.Equal(0x08, timer);
        Assert.Equal(0x71, slaveLine);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(16)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public void LineOutsideIsaRange_IsIgnored(int irq)
    {
        DualPic8259 pic = NewProgrammedPic();

        pic.SetLine(irq, true);

        Assert.False(pic.HasPendingInterrupt);
        Assert.Equal(0, _callbacks);
    }

    [Fact]
    public void MaskedLine_IsNotPendingUntilUnmasked_AndUnmaskingNotifies()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, MasterData, 0x08);

        pic.SetLine(3, true);
        bool pendingWhileMasked = pic.HasPendingInterrupt;
        int callbacksWhileMasked = _callbacks;
        Out(pic, MasterData, 0x00);

        Assert.False(pendingWhileMasked);
        Assert.Equal(0, callbacksWhileMasked);
        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(1, _callbacks);
        Assert.Equal(0x0B, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void Imr_ReadsBackFromTheOddPort()
    {
        DualPic8259 pic = NewProgrammedPic();

        Out(pic, MasterData, 0xB8);
        Out(pic, SlaveData, 0x5A);

        Assert.Equal(0xB8, In(pic, MasterData));
        Assert.Equal(0x5A, In(pic, SlaveData));
    }

    [Fact]
    public void TwoRequests_LowerNumberWinsAndTheOtherWaitsForEoi()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(4, true);
        pic.SetLine(1, true);

        byte first = pic.AcknowledgeInterrupt();
        bool pendingBeforeEoi = pic.HasPendingInterrupt;
        Out(pic, MasterCommand, NonSpecificEoi);

        Assert.Equal(0x09, first);
        Assert.False(pendingBeforeEoi);
        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(0x0C, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void HigherPriorityRequest_NestsOverOneInService()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(4, true);
        Assert.Equal(0x0C, pic.AcknowledgeInterrupt());

        pic.SetLine(1, true);

        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(0x09, pic.AcknowledgeInterrupt());
        Assert.Equal(0x12, ReadRegister(pic, MasterCommand, ReadIsr));
    }

    [Fact]
    public void EoiUncoveringAPendingRequest_FiresTheCallback()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(1, true);
        pic.AcknowledgeInterrupt();
        pic.SetLine(4, true); // blocked by IR1 in service: no callback
        int callbacksBeforeEoi = _callbacks;

        Out(pic, MasterCommand, NonSpecificEoi);

        Assert.Equal(1, callbacksBeforeEoi);
        Assert.Equal(2, _callbacks);
    }

    [Fact]
    public void NonSpecificEoi_EndsTheHighestPriorityInService()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(4, true);
        pic.AcknowledgeInterrupt();
        pic.SetLine(1, true);
        pic.AcknowledgeInterrupt();

        Out(pic, MasterCommand, NonSpecificEoi);

        Assert.Equal(0x10, ReadRegister(pic, MasterCommand, ReadIsr));
    }

    [Fact]
    public void SpecificEoi_EndsTheNamedLevel()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(4, true);
        pic.AcknowledgeInterrupt();
        pic.SetLine(1, true);
        pic.AcknowledgeInterrupt();

        Out(pic, MasterCommand, 0x64); // specific EOI, level 4

        Assert.Equal(0x02, ReadRegister(pic, MasterCommand, ReadIsr));
    }

    [Fact]
    public void RotateOnNonSpecificEoi_MakesTheEndedLevelLowest()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(0, true);
        pic.AcknowledgeInterrupt();
        pic.SetLine(0, false);

        Out(pic, MasterCommand, 0xA0); // rotate on non-specific EOI: IR0 lowest, IR1 highest
        pic.SetLine(0, true);
        pic.SetLine(3, true);

        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIsr));
        Assert.Equal(0x0B, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void RotateOnSpecificEoi_EndsAndMakesThatLevelLowest()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(6, true);
        pic.AcknowledgeInterrupt();

        Out(pic, MasterCommand, 0xE6); // rotate on specific EOI, level 6: IR7 highest
        pic.SetLine(1, true);
        pic.SetLine(7, true);

        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIsr));
        Assert.Equal(0x0F, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void SetPriority_MakesTheNextLevelHighest()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, MasterCommand, 0xC4); // set priority: IR4 lowest, IR5 highest

        pic.SetLine(1, true);
        pic.SetLine(6, true);

        Assert.Equal(0x0E, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void AutoEoi_LeavesNothingInService()
    {
        DualPic8259 pic = NewProgrammedPic(icw4: 0x03);
        pic.SetLine(1, true);

        byte vector = pic.AcknowledgeInterrupt();
        pic.SetLine(3, true); // lower priority, but nothing blocks it

        Assert.Equal(0x09, vector);
        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIsr));
        Assert.True(pic.HasPendingInterrupt);
    }

    [Fact]
    public void AcknowledgeLeavingAnotherRequestPending_FiresTheCallbackAgain()
    {
        DualPic8259 pic = NewProgrammedPic(icw4: 0x03);
        pic.SetLine(1, true);
        pic.SetLine(3, true);
        int callbacksBeforeAck = _callbacks;

        pic.AcknowledgeInterrupt();

        Assert.Equal(1, callbacksBeforeAck);
        Assert.Equal(2, _callbacks);
    }

    [Fact]
    public void RotateInAutoEoi_MakesEachAcknowledgedLevelLowest()
    {
        DualPic8259 pic = NewProgrammedPic(icw4: 0x03);
        Out(pic, MasterCommand, 0x80); // rotate in automatic EOI mode: set
        pic.SetLine(0, true);
        Assert.Equal(0x08, pic.AcknowledgeInterrupt());

        pic.SetLine(0, false);
        pic.SetLine(0, true);
        pic.SetLine(5, true);

        Assert.Equal(0x0D, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void RotateInAutoEoiClear_KeepsFixedPriority()
    {
        DualPic8259 pic = NewProgrammedPic(icw4: 0x03);
        Out(pic, MasterCommand, 0x80);
        Out(pic, MasterCommand, 0x00); // rotate in automatic EOI mode: clear
        pic.SetLine(0, true);
        Assert.Equal(0x08, pic.AcknowledgeInterrupt());

        pic.SetLine(0, false);
        pic.SetLine(0, true);
        pic.SetLine(5, true);

        Assert.Equal(0x08, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void SlaveLine_CascadesThroughMasterIr2AndAcknowledgesWithTheSlaveVector()
    {
        DualPic8259 pic = NewProgrammedPic();

        pic.SetLine(12, true);

        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(0x04, ReadRegister(pic, MasterCommand, ReadIrr));
        Assert.Equal(0x74, pic.AcknowledgeInterrupt());
        Assert.Equal(0x04, ReadRegister(pic, MasterCommand, ReadIsr));
        Assert.Equal(0x10, ReadRegister(pic, SlaveCommand, ReadIsr));
    }

    [Fact]
    public void MaskingMasterIr2_HidesEverySlaveLine()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, MasterData, 0x04);

        pic.SetLine(14, true);

        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void MaskedSlaveLine_DoesNotReachTheMaster()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, SlaveData, 0x40);

        pic.SetLine(14, true);

        Assert.False(pic.HasPendingInterrupt);
        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIrr));
    }

    [Fact]
    public void SlaveRequestWaitingBehindInService_NeedsEoiOnBothChips()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(8, true);
        pic.SetLine(12, true);
        Assert.Equal(0x70, pic.AcknowledgeInterrupt());

        Out(pic, SlaveCommand, NonSpecificEoi);
        bool pendingAfterSlaveEoi = pic.HasPendingInterrupt;
        Out(pic, MasterCommand, NonSpecificEoi);

        Assert.False(pendingAfterSlaveEoi);
        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(0x74, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void MasterLineAboveCascade_PreemptsASlaveInService()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(11, true);
        Assert.Equal(0x73, pic.AcknowledgeInterrupt());

        pic.SetLine(1, true);
        pic.SetLine(3, true);

        Assert.Equal(0x09, pic.AcknowledgeInterrupt());
        Assert.Equal(0x06, ReadRegister(pic, MasterCommand, ReadIsr));
    }

    [Fact]
    public void SpecialFullyNested_LetsAHigherSlaveRequestThroughItsOwnCascadeLevel()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, MasterCommand, 0x11);
        Out(pic, MasterData, 0x08);
        Out(pic, MasterData, 0x04);
        Out(pic, MasterData, 0x11); // 8086 mode, special fully nested
        pic.SetLine(12, true);
        Assert.Equal(0x74, pic.AcknowledgeInterrupt());

        pic.SetLine(9, true);

        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(0x71, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void FullyNested_BlocksAHigherSlaveRequestWhileCascadeIsInService()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(12, true);
        Assert.Equal(0x74, pic.AcknowledgeInterrupt());

        pic.SetLine(9, true);

        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void EdgeLine_HeldHighAfterEoi_DoesNotRequestAgainUntilItRisesAgain()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(3, true);
        pic.AcknowledgeInterrupt();
        Out(pic, MasterCommand, NonSpecificEoi);
        bool pendingWhileHeld = pic.HasPendingInterrupt;

        pic.SetLine(3, false);
        pic.SetLine(3, true);

        Assert.False(pendingWhileHeld);
        Assert.True(pic.HasPendingInterrupt);
    }

    [Fact]
    public void EdgeLine_ShortPulse_StaysLatchedUntilAcknowledged()
    {
        // The 8254 pulses IRQ 0; from a device process both levels arrive before the CPU can acknowledge.
        DualPic8259 pic = NewProgrammedPic();

        Pulse(pic, 0);

        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(0x08, pic.AcknowledgeInterrupt());
        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void TimerTicks_ArrivingTogether_AreEachTaken_OneAfterTheOther()
    {
        // Three PIT pulses applied at once (the event pump drained them together): three timer interrupts.
        DualPic8259 pic = NewProgrammedPic();
        Pulse(pic, 0);
        Pulse(pic, 0);
        Pulse(pic, 0);

        for (int tick = 0; tick < 3; tick++)
        {
            Assert.True(pic.HasPendingInterrupt, $"tick {tick} lost");
            Assert.Equal(0x08, pic.AcknowledgeInterrupt());
            Assert.False(pic.HasPendingInterrupt); // the next waits for the end of this one
            Out(pic, MasterCommand, NonSpecificEoi);
        }

        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void OtherEdgeLines_ArrivingTogether_MergeAsOnTheBoard()
    {
        DualPic8259 pic = NewProgrammedPic();
        Pulse(pic, 3);
        Pulse(pic, 3);

        Assert.Equal(0x0B, pic.AcknowledgeInterrupt());
        Out(pic, MasterCommand, NonSpecificEoi);
        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void TimerTicks_ComingWhileLinuxMasksTheLineToHandleOne_AreKept()
    {
        // Linux's i8259 driver masks a line and sends a specific EOI before it runs the handler, then unmasks.
        DualPic8259 pic = NewProgrammedPic();
        Pulse(pic, 0);
        Assert.Equal(0x08, pic.AcknowledgeInterrupt());
        Out(pic, MasterData, 0x01);       // mask IRQ 0
        Out(pic, MasterCommand, 0x60);    // specific EOI, level 0
        Pulse(pic, 0);                    // two ticks while the handler runs
        Pulse(pic, 0);
        Out(pic, MasterData, 0x00);       // unmask

        for (int tick = 0; tick < 2; tick++)
        {
            Assert.True(pic.HasPendingInterrupt, $"tick {tick} lost");
            Assert.Equal(0x08, pic.AcknowledgeInterrupt());
            Out(pic, MasterCommand, NonSpecificEoi);
        }

        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void QueuedTimerTicks_AreBounded_AndForgottenByInitialisation()
    {
        DualPic8259 pic = NewProgrammedPic();
        Pulse(pic, 0);
        Pulse(pic, 0);
        Out(pic, MasterCommand, 0x11); // ICW1: the edge latches and the queue start over
        Out(pic, MasterData, 0x08);
        Out(pic, MasterData, 0x04);
        Out(pic, MasterData, 0x01);
        Assert.False(pic.HasPendingInterrupt);

        for (int i = 0; i < DualPic8259.MaxQueuedTimerTicks + 10; i++)
        {
            Pulse(pic, 0);
        }

        int taken = 0;
        while (pic.HasPendingInterrupt)
        {
            pic.AcknowledgeInterrupt();
            Out(pic, MasterCommand, NonSpecificEoi);
            taken++;
        }

        Assert.Equal(1 + DualPic8259.MaxQueuedTimerTicks, taken);
    }

    [Fact]
    public void LevelRequestVanishingBeforeAcknowledge_GivesSpuriousIr7WithoutInService()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.Write(DualPic8259.ElcrRegion, 0, 1, 1 << 3); // IRQ 3 level-triggered
        pic.SetLine(3, true);
        Assert.True(pic.HasPendingInterrupt);

        pic.SetLine(3, false);
        byte vector = pic.AcknowledgeInterrupt();

        Assert.Equal(0x0F, vector);
        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIsr));
    }

    [Fact]
    public void LevelLineViaElcr_RequestsAgainAfterEoiWhileHigh()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, ElcrSlave, 0x08); // IRQ 11 level-triggered
        pic.SetLine(11, true);
        Assert.Equal(0x73, pic.AcknowledgeInterrupt());

        Out(pic, SlaveCommand, NonSpecificEoi);
        Out(pic, MasterCommand, NonSpecificEoi);

        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(0x73, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void LevelLineViaElcr_StopsRequestingWhenLowered()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, ElcrMaster, 0x20); // IRQ 5 level-triggered
        pic.SetLine(5, true);
        Assert.Equal(0x0D, pic.AcknowledgeInterrupt());

        pic.SetLine(5, false);
        Out(pic, MasterCommand, NonSpecificEoi);

        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void SwitchingAHighLineToLevelMode_RequestsAtOnce()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(10, true);
        Assert.Equal(0x72, pic.AcknowledgeInterrupt());
        Out(pic, SlaveCommand, NonSpecificEoi);
        Out(pic, MasterCommand, NonSpecificEoi);
        int callbacksBefore = _callbacks;

        Out(pic, ElcrSlave, 0x04);

        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(callbacksBefore + 1, _callbacks);
    }

    [Fact]
    public void Elcr_TimerKeyboardCascadeRtcAndFpuBitsAreEdgeOnly()
    {
        DualPic8259 pic = NewProgrammedPic();

        Out(pic, ElcrMaster, 0xFF);
        Out(pic, ElcrSlave, 0xFF);

        Assert.Equal(0xF8, In(pic, ElcrMaster));
        Assert.Equal(0xDE, In(pic, ElcrSlave));
    }

    [Fact]
    public void Elcr_WordAccessCoversBothRegisters()
    {
        DualPic8259 pic = NewProgrammedPic();

        pic.Write(DualPic8259.ElcrRegion, 0, 2, 0x0C20);

        Assert.Equal(0x0C20UL, pic.Read(DualPic8259.ElcrRegion, 0, 2));
    }

    [Fact]
    public void Ltim_MakesEveryInputLevelTriggered()
    {
        DualPic8259 pic = NewPic();
        Out(pic, MasterCommand, 0x19); // ICW1 with LTIM
        Out(pic, MasterData, 0x08);
        Out(pic, MasterData, 0x04);
        Out(pic, MasterData, 0x01);
        pic.SetLine(0, true);
        pic.AcknowledgeInterrupt();

        Out(pic, MasterCommand, NonSpecificEoi);

        Assert.True(pic.HasPendingInterrupt);
    }

    [Fact]
    public void PollCommand_NextReadReturnsThePollWordAndAcknowledges()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(3, true);

        Out(pic, MasterCommand, Poll);
        byte pollWord = In(pic, MasterCommand);

        Assert.Equal(0x83, pollWord);
        Assert.Equal(0x08, ReadRegister(pic, MasterCommand, ReadIsr));
        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIrr));
        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void PollCommand_WithNoRequest_ReadsZeroOnceThenTheRegister()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, MasterCommand, ReadIsr);

        Out(pic, MasterCommand, Poll);
        byte pollWord = In(pic, MasterCommand);
        pic.SetLine(4, true);
        pic.AcknowledgeInterrupt();
        byte afterPoll = In(pic, MasterCommand);

        Assert.Equal(0x00, pollWord);
        Assert.Equal(0x10, afterPoll); // the ISR selection made before the poll still holds
    }

    [Fact]
    public void PollOfTheSlave_AcknowledgesTheSlaveAndDropsTheCascadeRequest()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(13, true);

        Out(pic, SlaveCommand, Poll);
        byte pollWord = In(pic, SlaveCommand);

        Assert.Equal(0x85, pollWord);
        Assert.False(pic.HasPendingInterrupt);
        Assert.Equal(0x20, ReadRegister(pic, SlaveCommand, ReadIsr));
    }

    [Fact]
    public void SpecialMaskMode_MaskedInServiceLevelStopsBlockingLowerLevels()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(1, true);
        pic.AcknowledgeInterrupt();
        Out(pic, MasterData, 0x02);
        pic.SetLine(4, true);
        bool pendingWithoutSpecialMask = pic.HasPendingInterrupt;

        Out(pic, MasterCommand, 0x68); // OCW3: set special mask mode

        Assert.False(pendingWithoutSpecialMask);
        Assert.True(pic.HasPendingInterrupt);
        Assert.Equal(0x0C, pic.AcknowledgeInterrupt());
    }

    [Fact]
    public void SpecialMaskMode_ResetRestoresNormalBlocking()
    {
        DualPic8259 pic = NewProgrammedPic();
        pic.SetLine(1, true);
        pic.AcknowledgeInterrupt();
        Out(pic, MasterData, 0x02);
        Out(pic, MasterCommand, 0x68);

        Out(pic, MasterCommand, 0x48); // OCW3: reset special mask mode
        pic.SetLine(4, true);

        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void Icw1_ClearsMaskAndInServiceAndNeedsANewEdge()
    {
        DualPic8259 pic = NewProgrammedPic();
        Out(pic, MasterData, 0xFF);
        pic.SetLine(5, true);
        Out(pic, MasterData, 0x00);
        pic.AcknowledgeInterrupt();

        Out(pic, MasterCommand, 0x11);
        Out(pic, MasterData, 0x08);
        Out(pic, MasterData, 0x04);
        Out(pic, MasterData, 0x01);

        Assert.Equal(0x00, In(pic, MasterData));
        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIsr));
        Assert.False(pic.HasPendingInterrupt);
    }

    [Fact]
    public void ConcurrentLinesAndAcknowledges_KeepInServiceAndRequestsConsistent()
    {
        // Two device threads toggle a master and a slave line each (IRQ 3 and 11, IRQ 5 and 12) while the
        // "vCPU" acknowledges and ends every interrupt. Only the vCPU touches the ISRs, so after each EOI both
        // must read zero, and every vector must be one of the four lines' or a spurious one. Edges stay latched
        // until acknowledged, so once the devices stop the vCPU drains what is left; then, with every line low,
        // nothing may be requested, and one more rising edge on each line must be seen (a lost update of the pin
        // state would swallow it).
        const int TogglesPerThread = 10_000;
        const int HighSpins = 20;          // keeps each pulse up long enough for the vCPU to see some
        const int WaitForVcpuEvery = 256;  // now and then a device waits for an acknowledge, so one surely happens
        TimeSpan limit = TestDeadlines.Seconds(30);
        DualPic8259 pic = NewProgrammedPic();
        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        int acknowledged = 0;

        Thread Toggler(int masterIrq, int slaveIrq) => new(() =>
        {
            try
            {
                for (int i = 0; i < TogglesPerThread; i++)
                {
                    int irq = (i & 1) == 0 ? masterIrq : slaveIrq;
                    int before = Volatile.Read(ref acknowledged);
                    pic.SetLine(irq, true);
                    Thread.SpinWait(HighSpins);
                    if (i % WaitForVcpuEvery == 0)
                        SpinWait.SpinUntil(() => Volatile.Read(ref acknowledged) != before || stop.IsCancellationRequested, limit);
                    pic.SetLine(irq, false);
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
        });

        var vcpu = new Thread(() =>
        {
            try
            {
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed < limit)
                {
                    // Stop first, then the PIC: a stop seen before a "nothing pending" means no edge can come after.
                    bool devicesDone = stop.IsCancellationRequested;
                    if (!pic.HasPendingInterrupt)
                    {
                        if (devicesDone)
                            break; // the devices are done and every latched edge was taken
                        continue;
                    }

                    byte vector = pic.AcknowledgeInterrupt();
                    switch (vector)
                    {
                        case 0x0B or 0x0D:
                            Out(pic, MasterCommand, NonSpecificEoi);
                            break;
                        case 0x73 or 0x74:
                            Out(pic, SlaveCommand, NonSpecificEoi);
                            Out(pic, MasterCommand, NonSpecificEoi);
                            break;
                        case 0x77: // slave spurious: master IR2 is in service
                            Out(pic, MasterCommand, NonSpecificEoi);
                            break;
                        case 0x0F: // master spurious: nothing in service
                            break;
                        default:
                            throw new InvalidOperationException($"unexpected vector 0x{vector:X2}");
                    }
                    Interlocked.Increment(ref acknowledged);
                    byte masterIsr = ReadRegister(pic, MasterCommand, ReadIsr);
                    byte slaveIsr = ReadRegister(pic, SlaveCommand, ReadIsr);
                    if (masterIsr != 0 || slaveIsr != 0)
                        throw new InvalidOperationException($"ISR not clear after EOI: master 0x{masterIsr:X2}, slave 0x{slaveIsr:X2}");
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
        });

        Thread first = Toggler(3, 11);
        Thread second = Toggler(5, 12);
        vcpu.Start();
        first.Start();
        second.Start();
        bool togglersDone = first.Join(limit) & second.Join(limit);
        stop.Cancel();
        bool vcpuDone = vcpu.Join(limit);
        bool pendingWithAllLinesLow = pic.HasPendingInterrupt;
        byte masterIrrWithAllLinesLow = ReadRegister(pic, MasterCommand, ReadIrr);
        byte slaveIrrWithAllLinesLow = ReadRegister(pic, SlaveCommand, ReadIrr);
        foreach (int irq in (int[])[3, 5, 11, 12])
            pic.SetLine(irq, true);

        Assert.True(togglersDone && vcpuDone, "threads did not finish in time");
        Assert.Null(failure);
        Assert.True(acknowledged > 0, "the vCPU never acknowledged an interrupt");
        Assert.False(pendingWithAllLinesLow);
        Assert.Equal(0x00, masterIrrWithAllLinesLow);
        Assert.Equal(0x00, slaveIrrWithAllLinesLow);
        Assert.Equal(0x2C, ReadRegister(pic, MasterCommand, ReadIrr));
        Assert.Equal(0x18, ReadRegister(pic, SlaveCommand, ReadIrr));
        Assert.Equal(0x00, ReadRegister(pic, MasterCommand, ReadIsr));
        Assert.Equal(0x00, ReadRegister(pic, SlaveCommand, ReadIsr));
    }
}
