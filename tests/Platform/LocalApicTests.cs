using SplitEmu.CpuHost.Platform;

namespace SplitEmu.Tests.Platform;

/// <summary>
/// One local APIC driven through its registers (SDM vol. 3 ch. 10). Vectors are picked by priority class (the high
/// nibble): 0x41 and 0x45 share class 4, 0x51 is class 5, 0x61 class 6. Timer values use divide-by-1 (config 0xB)
/// unless a test is about the divider, so one tick is one nanosecond of the fake clock.
/// </summary>
public sealed class LocalApicTests
{
    private const uint DivideBy1 = 0xB;
    private const byte TimerVector = 0x40;

    private static readonly ApicMessage s_fixed41 = new(ApicDeliveryMode.Fixed, 0x41, Logical: false, Destination: 0);

    private static ApicMessage Fixed(byte vector, bool level = false) =>
        new(ApicDeliveryMode.Fixed, vector, Logical: false, Destination: 0, LevelTriggered: level);

    /// <summary>A one-APIC rig, software-enabled.</summary>
    private static (ApicRig Rig, LocalApic Apic, FakeApicCpu Cpu) One()
    {
        ApicRig rig = new ApicRig(1).Enabled();
        return (rig, rig.Apics[0], rig.Cpus[0]);
    }

    private static void StartTimer(LocalApic apic, uint lvt, uint divide, uint initialCount)
    {
        apic.WriteRegister(LocalApic.Registers.TimerDivide, divide);
        apic.WriteRegister(LocalApic.Registers.LvtTimer, lvt);
        apic.WriteRegister(LocalApic.Registers.TimerInitialCount, initialCount);
    }

    [Fact]
    public void PowerOn_RegistersHaveTheSdmValues()
    {
        var rig = new ApicRig(2);
        LocalApic ap = rig.Apics[1];

        Assert.Equal(0x0100_0000u, ap.ReadRegister(LocalApic.Registers.Id));
        Assert.Equal(0x0005_0014u, ap.ReadRegister(LocalApic.Registers.Version));
        Assert.Equal(0x0000_00FFu, ap.ReadRegister(LocalApic.Registers.Svr));
        Assert.Equal(0xFFFF_FFFFu, ap.ReadRegister(LocalApic.Registers.Dfr));
        Assert.Equal(0u, ap.ReadRegister(LocalApic.Registers.Tpr));
        Assert.Equal(0u, ap.ReadRegister(LocalApic.Registers.Ldr));
        Assert.All(
            [LocalApic.Registers.LvtTimer, 0x330, 0x340, LocalApic.Registers.LvtLint0, LocalApic.Registers.LvtLint1, LocalApic.Registers.LvtError],
            offset => Assert.Equal(LocalApic.LvtMasked, ap.ReadRegister(offset)));
        Assert.True(ap.WaitingForStartup);
        Assert.Equal(long.MaxValue, ap.NextTimerDeadline);
    }

    [Fact]
    public void PowerOn_BootstrapProcessorLint0IsVirtualWire_AndItDoesNotWaitForStartup()
    {
        var rig = new ApicRig(2);

        Assert.Equal(0x700u, rig.Apics[0].ReadRegister(LocalApic.Registers.LvtLint0));
        Assert.Equal(LocalApic.LvtMasked, rig.Apics[1].ReadRegister(LocalApic.Registers.LvtLint0));
        Assert.False(rig.Apics[0].WaitingForStartup);
    }

    [Fact]
    public void ApicBaseMsr_IsFee00000Enabled_WithTheBspBitOnProcessorZeroOnly()
    {
        var rig = new ApicRig(2);

        Assert.Equal(0xFEE0_0900UL, rig.Apics[0].ApicBaseMsr);
        Assert.Equal(0xFEE0_0800UL, rig.Apics[1].ApicBaseMsr);
    }

    [Theory]
    [InlineData(0xFEE0_0801UL)] // bit 0
    [InlineData(0xFEE0_0C00UL)] // bit 10: x2APIC is not offered
    [InlineData(0x10_FEE0_0800UL)] // above 36 address bits
    public void ApicBaseMsr_ReservedBits_AreRefusedAndChangeNothing(ulong value)
    {
        var rig = new ApicRig(2);

        bool accepted = rig.Apics[1].WriteApicBaseMsr(value);

        Assert.False(accepted);
        Assert.Equal(0xFEE0_0800UL, rig.Apics[1].ApicBaseMsr);
    }

    [Fact]
    public void ApicBaseMsr_RelocationAndBspBit_AreIgnored()
    {
        var rig = new ApicRig(2);

        bool accepted = rig.Apics[1].WriteApicBaseMsr(0xFED0_0900UL);

        Assert.True(accepted);
        Assert.Equal(0xFEE0_0800UL, rig.Apics[1].ApicBaseMsr);
    }

    [Fact]
    public void WritableRegisters_KeepOnlyTheirDefinedBits()
    {
        (_, LocalApic apic, _) = One();

        apic.WriteRegister(LocalApic.Registers.Tpr, 0xFFFF_FF35);
        apic.WriteRegister(LocalApic.Registers.Ldr, 0xFFFF_FFFF);
        apic.WriteRegister(LocalApic.Registers.Dfr, 0x0000_0000);
        apic.WriteRegister(LocalApic.Registers.IcrHigh, 0xFFFF_FFFF);
        apic.WriteRegister(LocalApic.Registers.LvtTimer, 0xFFFF_FFFF);
        apic.WriteRegister(LocalApic.Registers.LvtLint0, 0xFFFF_FFFF);
        apic.WriteRegister(LocalApic.Registers.LvtError, 0xFFFF_FFFF);
        apic.WriteRegister(LocalApic.Registers.TimerDivide, 0xFFFF_FFFF);

        Assert.Equal(0x35u, apic.ReadRegister(LocalApic.Registers.Tpr));
        Assert.Equal(0xFF00_0000u, apic.ReadRegister(LocalApic.Registers.Ldr));
        Assert.Equal(0x0FFF_FFFFu, apic.ReadRegister(LocalApic.Registers.Dfr));
        Assert.Equal(0xFF00_0000u, apic.ReadRegister(LocalApic.Registers.IcrHigh));
        Assert.Equal(0x300FFu, apic.ReadRegister(LocalApic.Registers.LvtTimer)); // no TSC-deadline bit, no status
        Assert.Equal(0x1A7FFu, apic.ReadRegister(LocalApic.Registers.LvtLint0)); // no remote IRR, no status
        Assert.Equal(0x100FFu, apic.ReadRegister(LocalApic.Registers.LvtError));
        Assert.Equal(0xBu, apic.ReadRegister(LocalApic.Registers.TimerDivide));
    }

    [Fact]
    public void ReadOnlyRegisters_IgnoreWrites()
    {
        (_, LocalApic apic, _) = One();

        apic.WriteRegister(LocalApic.Registers.Version, 0);
        apic.WriteRegister(LocalApic.Registers.Ppr, 0xF0);
        apic.WriteRegister(LocalApic.Registers.Irr + 0x20, 0xFFFF_FFFF);

        Assert.Equal(LocalApic.Version, apic.ReadRegister(LocalApic.Registers.Version));
        Assert.Equal(0u, apic.ReadRegister(LocalApic.Registers.Ppr));
        Assert.Equal(0u, apic.ReadRegister(LocalApic.Registers.Irr + 0x20));
    }

    [Fact]
    public void Mmio_PartialReadsReturnTheRegistersBytes_AndBytesFourToFifteenReadZero()
    {
        (_, LocalApic apic, _) = One();

        Assert.Equal(0x14UL, apic.ReadMmio(0x30, 1));
        Assert.Equal(0x05UL, apic.ReadMmio(0x32, 1));
        Assert.Equal(0x0005UL, apic.ReadMmio(0x32, 2));
        Assert.Equal(0x0005_0014UL, apic.ReadMmio(0x30, 4));
        Assert.Equal(0UL, apic.ReadMmio(0x34, 4));
    }

    [Theory]
    [InlineData(0x80UL, 1)]
    [InlineData(0x80UL, 2)]
    [InlineData(0x84UL, 4)]
    [InlineData(0x81UL, 4)]
    public void Mmio_WritesThatAreNotAlignedDwords_AreIgnored(ulong offset, int size)
    {
        (_, LocalApic apic, _) = One();

        apic.WriteMmio(offset, size, 0xFFFF_FFFF);

        Assert.Equal(0u, apic.ReadRegister(LocalApic.Registers.Tpr));
    }

    [Fact]
    public void Mmio_AlignedDwordWrite_ReachesTheRegister()
    {
        (_, LocalApic apic, _) = One();

        apic.WriteMmio(0x80, 4, 0x20);

        Assert.Equal(0x20UL, apic.ReadMmio(0x80, 4));
    }

    [Fact]
    public void AcceptedFixedVector_IsPendingNotifiesAndAcknowledgesIntoTheIsr()
    {
        (ApicRig rig, LocalApic apic, FakeApicCpu cpu) = One();

        rig.Bus.Deliver(s_fixed41, -1);
        bool pending = apic.HasPendingInterrupt;
        byte vector = apic.AcknowledgeInterrupt();

        Assert.True(pending);
        Assert.Equal(1, cpu.InterruptNotifications);
        Assert.Equal(0x41, vector);
        Assert.True(ApicRig.Bit(apic, LocalApic.Registers.Isr, 0x41));
        Assert.False(ApicRig.Bit(apic, LocalApic.Registers.Irr, 0x41));
        Assert.False(apic.HasPendingInterrupt);
        Assert.Equal(0x40u, apic.ReadRegister(LocalApic.Registers.Ppr));
    }

    [Fact]
    public void TwoRequests_TheHigherVectorIsServedFirst()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        rig.Bus.Deliver(Fixed(0x41), -1);
        rig.Bus.Deliver(Fixed(0x51), -1);

        byte first = apic.AcknowledgeInterrupt();

        Assert.Equal(0x51, first);
    }

    [Fact]
    public void InService_BlocksItsOwnClassAndLower_UntilEoi()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        rig.Bus.Deliver(Fixed(0x51), -1);
        apic.AcknowledgeInterrupt();
        rig.Bus.Deliver(Fixed(0x55), -1);
        rig.Bus.Deliver(Fixed(0x41), -1);

        bool pendingWhileInService = apic.HasPendingInterrupt;
        apic.WriteRegister(LocalApic.Registers.Eoi, 0);
        byte next = apic.AcknowledgeInterrupt();

        Assert.False(pendingWhileInService);
        Assert.Equal(0x55, next);
    }

    [Fact]
    public void HigherClass_PreemptsOneInService_AndEoiEndsTheHighestFirst()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        rig.Bus.Deliver(Fixed(0x41), -1);
        apic.AcknowledgeInterrupt();
        rig.Bus.Deliver(Fixed(0x61), -1);

        byte nested = apic.AcknowledgeInterrupt();
        apic.WriteRegister(LocalApic.Registers.Eoi, 0);

        Assert.Equal(0x61, nested);
        Assert.False(ApicRig.Bit(apic, LocalApic.Registers.Isr, 0x61));
        Assert.True(ApicRig.Bit(apic, LocalApic.Registers.Isr, 0x41));
        Assert.Equal(0x40u, apic.ReadRegister(LocalApic.Registers.Ppr));
    }

    [Fact]
    public void Eoi_WithNothingInService_ChangesNothing()
    {
        (_, LocalApic apic, _) = One();

        apic.WriteRegister(LocalApic.Registers.Eoi, 0);

        Assert.Equal(0u, apic.ReadRegister(LocalApic.Registers.Isr + 0x20));
        Assert.False(apic.HasPendingInterrupt);
    }

    [Fact]
    public void Tpr_MasksItsClassAndBelow_AndLoweringItNotifies()
    {
        (ApicRig rig, LocalApic apic, FakeApicCpu cpu) = One();
        apic.WriteRegister(LocalApic.Registers.Tpr, 0x50);
        rig.Bus.Deliver(Fixed(0x51), -1);
        bool pendingUnderTpr = apic.HasPendingInterrupt;
        int notificationsUnderTpr = cpu.InterruptNotifications;

        apic.WriteRegister(LocalApic.Registers.Tpr, 0x40);

        Assert.False(pendingUnderTpr);
        Assert.Equal(0, notificationsUnderTpr);
        Assert.True(apic.HasPendingInterrupt);
        Assert.Equal(1, cpu.InterruptNotifications);
        Assert.Equal(0x40u, apic.ReadRegister(LocalApic.Registers.Ppr));
    }

    [Fact]
    public void Ppr_IsTheTprWhenItsClassIsAtLeastTheIsrs_ElseTheIsrClass()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        rig.Bus.Deliver(Fixed(0x57), -1);
        apic.AcknowledgeInterrupt();

        apic.WriteRegister(LocalApic.Registers.Tpr, 0x43);
        uint belowIsr = apic.ReadRegister(LocalApic.Registers.Ppr);
        apic.WriteRegister(LocalApic.Registers.Tpr, 0x53);
        uint sameClass = apic.ReadRegister(LocalApic.Registers.Ppr);

        Assert.Equal(0x50u, belowIsr);
        Assert.Equal(0x53u, sameClass);
    }

    [Fact]
    public void Apr_IsTheTprUnlessAHigherClassIsRequestedOrInService()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        apic.WriteRegister(LocalApic.Registers.Tpr, 0x35);
        uint idle = apic.ReadRegister(LocalApic.Registers.Apr);

        rig.Bus.Deliver(Fixed(0x61), -1);
        uint requested = apic.ReadRegister(LocalApic.Registers.Apr);

        Assert.Equal(0x35u, idle);
        Assert.Equal(0x60u, requested);
    }

    [Fact]
    public void RequestMaskedBeforeAcknowledge_GivesTheSpuriousVector_IsrUntouched()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        apic.WriteRegister(LocalApic.Registers.Svr, 0x1E7);
        rig.Bus.Deliver(Fixed(0x51), -1);
        bool pending = apic.HasPendingInterrupt;

        apic.WriteRegister(LocalApic.Registers.Tpr, 0xF0);
        byte vector = apic.AcknowledgeInterrupt();

        Assert.True(pending);
        Assert.Equal(0xE7, vector);
        Assert.Equal(0u, apic.ReadRegister(LocalApic.Registers.Isr + 0x20));
        Assert.True(ApicRig.Bit(apic, LocalApic.Registers.Irr, 0x51));
    }

    [Fact]
    public void SoftwareDisable_MasksEveryLvt_AndMasksCannotBeCleared()
    {
        (_, LocalApic apic, _) = One();
        apic.WriteRegister(LocalApic.Registers.LvtLint1, 0x400);

        apic.WriteRegister(LocalApic.Registers.Svr, 0xFF);
        apic.WriteRegister(LocalApic.Registers.LvtError, 0xFE);

        Assert.Equal(0x10400u, apic.ReadRegister(LocalApic.Registers.LvtLint1));
        Assert.Equal(0x100FEu, apic.ReadRegister(LocalApic.Registers.LvtError));
    }

    [Fact]
    public void SoftwareDisabled_TakesNoFixedVectors_ButHoldsThoseItHas()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        rig.Bus.Deliver(Fixed(0x41), -1);

        apic.WriteRegister(LocalApic.Registers.Svr, 0xFF);
        rig.Bus.Deliver(Fixed(0x51), -1);
        bool pendingWhileDisabled = apic.HasPendingInterrupt;
        byte acknowledged = apic.AcknowledgeInterrupt();
        apic.WriteRegister(LocalApic.Registers.Svr, 0x1FF);

        Assert.False(pendingWhileDisabled);
        Assert.Equal(0xFF, acknowledged);
        Assert.False(ApicRig.Bit(apic, LocalApic.Registers.Irr, 0x51));
        Assert.True(apic.HasPendingInterrupt);
        Assert.Equal(0x41, apic.AcknowledgeInterrupt());
    }

    [Fact]
    public void SoftwareDisabled_StillTakesNmiAndInit()
    {
        var rig = new ApicRig(2);

        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Nmi, 0, false, 1), -1);
        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Init, 0, false, 1), -1);

        Assert.Equal(1, rig.Cpus[1].Nmis);
        Assert.Equal(1, rig.Cpus[1].Inits);
    }

    [Fact]
    public void LevelTriggeredVector_SetsItsTmrBit_EdgeClearsIt()
    {
        (ApicRig rig, LocalApic apic, _) = One();

        rig.Bus.Deliver(Fixed(0x41, level: true), -1);
        bool afterLevel = ApicRig.Bit(apic, LocalApic.Registers.Tmr, 0x41);
        apic.AcknowledgeInterrupt();
        apic.WriteRegister(LocalApic.Registers.Eoi, 0);
        rig.Bus.Deliver(Fixed(0x41), -1);

        Assert.True(afterLevel);
        Assert.False(ApicRig.Bit(apic, LocalApic.Registers.Tmr, 0x41));
    }

    [Fact]
    public void IllegalVector_IsDropped_AndReportedInEsrAfterAnEsrWrite_ThroughTheErrorLvt()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        apic.WriteRegister(LocalApic.Registers.LvtError, 0xFE);

        rig.Bus.Deliver(Fixed(0x0E), -1);
        uint beforeLatch = apic.ReadRegister(LocalApic.Registers.Esr);
        apic.WriteRegister(LocalApic.Registers.Esr, 0);
        uint latched = apic.ReadRegister(LocalApic.Registers.Esr);

        Assert.Equal(0u, beforeLatch);
        Assert.Equal(LocalApic.ErrorReceiveIllegalVector, latched);
        Assert.False(ApicRig.Bit(apic, LocalApic.Registers.Irr, 0x0E));
        Assert.Equal(0xFE, apic.AcknowledgeInterrupt());
    }

    [Fact]
    public void OneShotTimer_FiresOnceAtInitialCountTicks()
    {
        (ApicRig rig, LocalApic apic, FakeApicCpu cpu) = One();
        rig.Now = 1_000;
        StartTimer(apic, TimerVector, DivideBy1, 500);
        long deadline = apic.NextTimerDeadline;
        int notificationsBefore = cpu.InterruptNotifications; // arming the timer told the vCPU of its deadline

        apic.RunDue(1_499);
        bool pendingEarly = apic.HasPendingInterrupt;
        apic.RunDue(1_500);

        Assert.Equal(1_500, deadline);
        Assert.False(pendingEarly);
        Assert.True(apic.HasPendingInterrupt);
        Assert.Equal(notificationsBefore + 1, cpu.InterruptNotifications);
        Assert.Equal(long.MaxValue, apic.NextTimerDeadline);
        Assert.Equal(TimerVector, apic.AcknowledgeInterrupt());
    }

    [Fact]
    public void ArmingTheTimer_TellsTheVcpuOfItsEarlierDeadline()
    {
        (_, LocalApic apic, FakeApicCpu cpu) = One();
        apic.WriteRegister(LocalApic.Registers.TimerDivide, DivideBy1);
        apic.WriteRegister(LocalApic.Registers.LvtTimer, TimerVector);
        int beforeArming = cpu.InterruptNotifications;

        apic.WriteRegister(LocalApic.Registers.TimerInitialCount, 100);

        Assert.Equal(beforeArming + 1, cpu.InterruptNotifications);
    }

    [Fact]
    public void OneShotTimer_CurrentCountFollowsTheClock_AndStopsAtZero()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        StartTimer(apic, TimerVector, DivideBy1, 500);

        rig.Now = 120;
        uint running = apic.CurrentCount;
        rig.Now = 10_000;
        uint expired = apic.CurrentCount;

        Assert.Equal(380u, running);
        Assert.Equal(0u, expired);
    }

    [Fact]
    public void PeriodicTimer_ReloadsAndKeepsItsPhase_WhenRunLate()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        StartTimer(apic, TimerVector | LocalApic.LvtTimerPeriodic, DivideBy1, 100);

        apic.RunDue(100);
        long second = apic.NextTimerDeadline;
        apic.AcknowledgeInterrupt();
        apic.WriteRegister(LocalApic.Registers.Eoi, 0);
        apic.RunDue(350); // two and a half periods late: one interrupt, the next on the period grid
        long afterLate = apic.NextTimerDeadline;
        rig.Now = 330;
        uint count = apic.CurrentCount;

        Assert.Equal(200, second);
        Assert.Equal(400, afterLate);
        Assert.True(apic.HasPendingInterrupt);
        Assert.Equal(70u, count);
    }

    [Theory]
    [InlineData(0x0u, 2)]
    [InlineData(0x1u, 4)]
    [InlineData(0x2u, 8)]
    [InlineData(0x3u, 16)]
    [InlineData(0x8u, 32)]
    [InlineData(0x9u, 64)]
    [InlineData(0xAu, 128)]
    [InlineData(0xBu, 1)]
    public void DivideConfiguration_SetsTicksPerNanosecond(uint divide, int divisor)
    {
        (ApicRig rig, LocalApic apic, _) = One();

        StartTimer(apic, TimerVector, divide, 10);

        Assert.Equal(10L * divisor, apic.NextTimerDeadline);
    }

    [Fact]
    public void DivideChangeMidCount_KeepsTheCount_AndGoesOnAtTheNewRate()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        StartTimer(apic, TimerVector, DivideBy1, 1_000);
        rig.Now = 400;

        apic.WriteRegister(LocalApic.Registers.TimerDivide, 0x0); // divide by 2
        uint countAfterChange = apic.CurrentCount;

        Assert.Equal(600u, countAfterChange);
        Assert.Equal(400 + (600 * 2), apic.NextTimerDeadline);
    }

    [Fact]
    public void MaskedTimer_KeepsCounting_ButHasNoDeadlineAndRaisesNothing()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        StartTimer(apic, TimerVector | LocalApic.LvtMasked, DivideBy1, 500);

        rig.Now = 100;
        uint count = apic.CurrentCount;
        apic.RunDue(600);

        Assert.Equal(400u, count);
        Assert.Equal(long.MaxValue, apic.NextTimerDeadline);
        Assert.False(apic.HasPendingInterrupt);
    }

    [Fact]
    public void InitialCountZero_StopsAPeriodicTimer()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        StartTimer(apic, TimerVector | LocalApic.LvtTimerPeriodic, DivideBy1, 100);
        rig.Now = 50;

        apic.WriteRegister(LocalApic.Registers.TimerInitialCount, 0);

        Assert.Equal(long.MaxValue, apic.NextTimerDeadline);
        Assert.Equal(0u, apic.CurrentCount);
    }

    [Fact]
    public void TimerWrite_FiresAnExpiryThatWasDueUnderTheOldSetting()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        StartTimer(apic, TimerVector, DivideBy1, 100);
        rig.Now = 150; // the vCPU loop has not called RunDue yet

        apic.WriteRegister(LocalApic.Registers.TimerInitialCount, 1_000);

        Assert.True(apic.HasPendingInterrupt);
        Assert.Equal(1_150, apic.NextTimerDeadline);
    }

    [Fact]
    public void Lint1AsNmi_RisingEdgeRaisesOneNmi_MaskedNone()
    {
        (_, LocalApic apic, FakeApicCpu cpu) = One();
        apic.WriteRegister(LocalApic.Registers.LvtLint1, (uint)ApicDeliveryMode.Nmi << 8);

        apic.SetLocalInterruptPin(1, true);
        apic.SetLocalInterruptPin(1, true); // held: no new edge
        apic.SetLocalInterruptPin(1, false);
        apic.WriteRegister(LocalApic.Registers.LvtLint1, ((uint)ApicDeliveryMode.Nmi << 8) | LocalApic.LvtMasked);
        apic.SetLocalInterruptPin(1, true);

        Assert.Equal(1, cpu.Nmis);
    }

    [Fact]
    public void Lint0ExtInt_PollsThe8259_AndTheAcknowledgeReachesIt()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        var pic = new FakeExternalPic(0x20) { Requesting = true };
        rig.Bus.ExternalInterruptSource = pic;
        apic.WriteRegister(LocalApic.Registers.LvtLint0, 0x700);

        bool pending = apic.HasPendingInterrupt;
        byte vector = apic.AcknowledgeInterrupt();

        Assert.True(pending);
        Assert.Equal(0x20, vector);
        Assert.Equal(1, pic.Acknowledges);
        Assert.Equal(0u, apic.ReadRegister(LocalApic.Registers.Isr + 0x10)); // the 8259's vector never enters the ISR
    }

    [Fact]
    public void Lint0Masked_HidesThe8259()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        var pic = new FakeExternalPic(0x20) { Requesting = true };
        rig.Bus.ExternalInterruptSource = pic;

        apic.WriteRegister(LocalApic.Registers.LvtLint0, 0x700 | LocalApic.LvtMasked);

        Assert.False(apic.HasPendingInterrupt);
    }

    [Fact]
    public void ApicVectors_ComeBeforeThe8259s()
    {
        (ApicRig rig, LocalApic apic, _) = One();
        var pic = new FakeExternalPic(0x20) { Requesting = true };
        rig.Bus.ExternalInterruptSource = pic;
        apic.WriteRegister(LocalApic.Registers.LvtLint0, 0x700);
        rig.Bus.Deliver(Fixed(0x41), -1);

        byte first = apic.AcknowledgeInterrupt();
        byte second = apic.AcknowledgeInterrupt();

        Assert.Equal(0x41, first);
        Assert.Equal(0x20, second);
    }

    [Fact]
    public void PowerOnBsp_PassesThe8259Through_BeforeTheOsTouchesItsApic()
    {
        var rig = new ApicRig(1);
        var pic = new FakeExternalPic(0x08) { Requesting = true };
        rig.Bus.ExternalInterruptSource = pic;

        Assert.True(rig.Apics[0].HasPendingInterrupt);
        Assert.Equal(0x08, rig.Apics[0].AcknowledgeInterrupt());
    }

    [Fact]
    public void HardwareDisabled_PassesThe8259Through_AndHidesTheRegisterPage()
    {
        var rig = new ApicRig(2);
        LocalApic ap = rig.Apics[1]; // LINT0 masked: only the hardware disable can open the 8259's path
        var pic = new FakeExternalPic(0x21) { Requesting = true };
        rig.Bus.ExternalInterruptSource = pic;
        bool pendingWhileEnabled = ap.HasPendingInterrupt;

        ap.WriteApicBaseMsr(0xFEE0_0000);

        Assert.False(pendingWhileEnabled);
        Assert.True(ap.HasPendingInterrupt);
        Assert.Equal(0x21, ap.AcknowledgeInterrupt());
        Assert.Equal(0u, ap.ReadRegister(LocalApic.Registers.Version));
        Assert.Equal(0xFEE0_0000UL, ap.ApicBaseMsr);
        Assert.Equal(1, rig.Cpus[1].InterruptNotifications);
    }

    [Fact]
    public void HardwareDisabled_TakesNoMessages()
    {
        var rig = new ApicRig(2).Enabled();
        rig.Apics[1].WriteApicBaseMsr(0xFEE0_0000);

        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Nmi, 0, false, 1), -1);
        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Init, 0, false, 1), -1);

        Assert.Equal(0, rig.Cpus[1].Nmis);
        Assert.Equal(0, rig.Cpus[1].Inits);
    }

    [Fact]
    public void Init_ResetsEverythingButTheId_AndTheApWaitsForStartup()
    {
        var rig = new ApicRig(2).Enabled();
        LocalApic ap = rig.Apics[1];
        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Startup, 0x9A, false, 1), -1); // the AP runs
        ap.WriteRegister(LocalApic.Registers.Id, 0x0700_0000);
        ap.WriteRegister(LocalApic.Registers.Tpr, 0x30);
        ap.WriteRegister(LocalApic.Registers.Ldr, 0x0100_0000);
        ap.WriteRegister(LocalApic.Registers.LvtLint0, 0x700);
        rig.Bus.Deliver(Fixed(0x51) with { Destination = 7 }, -1);
        StartTimer(ap, TimerVector, DivideBy1, 100);

        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Init, 0, false, 7), -1);

        Assert.Equal(1, rig.Cpus[1].Inits);
        Assert.Equal(0x0700_0000u, ap.ReadRegister(LocalApic.Registers.Id));
        Assert.Equal(0u, ap.ReadRegister(LocalApic.Registers.Tpr));
        Assert.Equal(0u, ap.ReadRegister(LocalApic.Registers.Ldr));
        Assert.Equal(0xFFu, ap.ReadRegister(LocalApic.Registers.Svr));
        Assert.Equal(LocalApic.LvtMasked, ap.ReadRegister(LocalApic.Registers.LvtLint0));
        Assert.False(ApicRig.Bit(ap, LocalApic.Registers.Irr, 0x51));
        Assert.Equal(long.MaxValue, ap.NextTimerDeadline);
        Assert.Equal(0xFEE0_0800UL, ap.ApicBaseMsr);
        Assert.True(ap.WaitingForStartup);
    }

    [Fact]
    public void Init_ToTheBootstrapProcessor_ResetsItsApic_ButItWaitsForNoStartup()
    {
        var rig = new ApicRig(2).Enabled();

        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Init, 0, false, 0), -1);
        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Startup, 0x9A, false, 0), -1);

        Assert.Equal(1, rig.Cpus[0].Inits);
        Assert.Equal(0xFFu, rig.Apics[0].ReadRegister(LocalApic.Registers.Svr));
        Assert.Equal(0xFEE0_0900UL, rig.Apics[0].ApicBaseMsr);
        Assert.Empty(rig.Cpus[0].Startups);
    }

    [Fact]
    public void Startup_IsPassedOnOncePerInit()
    {
        var rig = new ApicRig(2);
        var sipi = new ApicMessage(ApicDeliveryMode.Startup, 0x9A, false, 1);

        rig.Bus.Deliver(sipi, -1);
        rig.Bus.Deliver(sipi, -1); // the second SIPI of the MP start-up sequence: already running
        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Init, 0, false, 1), -1);
        rig.Bus.Deliver(sipi with { Vector = 0x9B }, -1);

        Assert.Equal([0x9A, 0x9B], rig.Cpus[1].Startups);
    }

    [Fact]
    public void Startup_ToTheBootstrapProcessorAfterPowerOn_IsIgnored()
    {
        var rig = new ApicRig(1);

        rig.Bus.Deliver(new ApicMessage(ApicDeliveryMode.Startup, 0x10, false, 0), -1);

        Assert.Empty(rig.Cpus[0].Startups);
    }

    [Fact]
    public void Reset_RestoresPowerOn_IdIncluded()
    {
        var rig = new ApicRig(2).Enabled();
        LocalApic ap = rig.Apics[1];
        ap.WriteRegister(LocalApic.Registers.Id, 0x0900_0000);
        ap.WriteApicBaseMsr(0xFEE0_0000);

        ap.Reset();

        Assert.Equal(0x0100_0000u, ap.ReadRegister(LocalApic.Registers.Id));
        Assert.Equal(0xFFu, ap.ReadRegister(LocalApic.Registers.Svr));
        Assert.Equal(0xFEE0_0800UL, ap.ApicBaseMsr);
    }
}
