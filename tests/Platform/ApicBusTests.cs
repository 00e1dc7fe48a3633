using SplitEmu.CpuHost.Platform;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Platform;

/// <summary>
/// IPIs through the ICR and routing on the bus (SDM vol. 3 §10.6). ICR low words are built from the SDM's fields:
/// vector | mode &lt;&lt; 8 | logical (bit 11) | level assert (bit 14) | level trigger (bit 15) | shorthand &lt;&lt; 18.
/// </summary>
public sealed class ApicBusTests
{
    private const uint LogicalMode = 1 << 11;
    private const uint Assert_ = 1 << 14;
    private const uint LevelTrigger = 1 << 15;
    private const uint Self = 1u << 18;
    private const uint AllIncludingSelf = 2u << 18;
    private const uint AllExcludingSelf = 3u << 18;
    private const uint LowestPriority = 1 << 8;
    private const uint Nmi = 4 << 8;
    private const uint Init = 5 << 8;
    private const uint Startup = 6 << 8;

    /// <summary>Which APICs of <paramref name="rig"/> have <paramref name="vector"/> requested.</summary>
    private static int[] Requested(ApicRig rig, byte vector) =>
        [.. rig.Apics.Where(a => ApicRig.Bit(a, LocalApic.Registers.Irr, vector)).Select(a => a.Index)];

    [Fact]
    public void Region_IsTheLocalApicPageAtFee00000_OfOneToFourByteAccesses()
    {
        var bus = new ApicBus(() => 0);

        Assert.Equal(
            [new DeviceRegionInfo("lapic", AddressSpaceKind.Memory, 0xFEE0_0000, 0x1000, MinAccessSize: 1, MaxAccessSize: 4)],
            bus.Regions);
    }

    [Fact]
    public void AddLocalApic_NumbersThemFromZero_WithTheIndexAsId()
    {
        var rig = new ApicRig(3);

        Assert.Equal([0, 1, 2], rig.Bus.LocalApics.Select(a => a.Index));
        Assert.Equal([0, 1, 2], rig.Bus.LocalApics.Select(a => (int)a.Id));
        Assert.True(rig.Apics[0].IsBootstrapProcessor);
        Assert.False(rig.Apics[2].IsBootstrapProcessor);
    }

    [Fact]
    public void PageAccess_ReachesTheApicOfTheVcpuTheThreadEntered()
    {
        var rig = new ApicRig(2);
        ulong seenByVcpu1 = 0;
        var thread = new Thread(() =>
        {
            rig.Bus.EnterVcpu(1);
            seenByVcpu1 = rig.Bus.Read(0, LocalApic.Registers.Id, 4);
            rig.Bus.Write(0, LocalApic.Registers.Tpr, 4, 0x20);
        });

        thread.Start();
        thread.Join();

        Assert.Equal(0x0100_0000UL, seenByVcpu1);
        Assert.Equal(0x20u, rig.Apics[1].ReadRegister(LocalApic.Registers.Tpr));
        Assert.Equal(0u, rig.Apics[0].ReadRegister(LocalApic.Registers.Tpr));
    }

    [Fact]
    public void PageAccess_FromAThreadWithNoVcpu_ReachesTheBootstrapProcessor()
    {
        var rig = new ApicRig(2);
        var other = new ApicRig(2);
        other.Bus.EnterVcpu(1); // this thread is a vCPU of another machine, not of rig's

        ulong id = rig.Bus.Read(0, LocalApic.Registers.Id, 4);
        ApicBus.LeaveVcpu();

        Assert.Equal(0UL, id);
    }

    [Fact]
    public void LeaveVcpu_SendsTheThreadBackToTheBootstrapProcessor()
    {
        var rig = new ApicRig(2);
        rig.Bus.EnterVcpu(1);

        ApicBus.LeaveVcpu();

        Assert.Equal(0UL, rig.Bus.Read(0, LocalApic.Registers.Id, 4));
    }

    [Fact]
    public void FixedIpi_Physical_ReachesOnlyThatId()
    {
        var rig = new ApicRig(3).Enabled();

        ApicRig.SendIpi(rig.Apics[0], 0x41, destination: 2);

        Assert.Equal([2], Requested(rig, 0x41));
        Assert.Equal(1, rig.Cpus[2].InterruptNotifications);
    }

    [Fact]
    public void FixedIpi_ToAChangedId_FollowsTheIdRegister()
    {
        var rig = new ApicRig(2).Enabled();
        rig.Apics[1].WriteRegister(LocalApic.Registers.Id, 0x0500_0000);

        ApicRig.SendIpi(rig.Apics[0], 0x41, destination: 5);

        Assert.Equal([1], Requested(rig, 0x41));
    }

    [Fact]
    public void PhysicalBroadcast_ReachesEveryApic()
    {
        var rig = new ApicRig(3).Enabled();

        ApicRig.SendIpi(rig.Apics[1], 0x42, destination: 0xFF);

        Assert.Equal([0, 1, 2], Requested(rig, 0x42));
    }

    [Fact]
    public void SelfShorthand_ReachesOnlyTheSender_WhateverTheDestination()
    {
        var rig = new ApicRig(3).Enabled();

        ApicRig.SendIpi(rig.Apics[1], Self | 0x43, destination: 2);

        Assert.Equal([1], Requested(rig, 0x43));
    }

    [Fact]
    public void AllIncludingSelf_ReachesEveryApic()
    {
        var rig = new ApicRig(3).Enabled();

        ApicRig.SendIpi(rig.Apics[2], AllIncludingSelf | 0x44);

        Assert.Equal([0, 1, 2], Requested(rig, 0x44));
    }

    [Fact]
    public void AllExcludingSelf_ReachesEveryOtherApic()
    {
        var rig = new ApicRig(3).Enabled();

        ApicRig.SendIpi(rig.Apics[1], AllExcludingSelf | 0x45);

        Assert.Equal([0, 2], Requested(rig, 0x45));
    }

    [Fact]
    public void LogicalFlat_ReachesEveryApicWithABitOfTheDestinationInItsLdr()
    {
        var rig = new ApicRig(3).Enabled();
        for (int i = 0; i < 3; i++)
            rig.Apics[i].WriteRegister(LocalApic.Registers.Ldr, (1u << i) << 24);

        ApicRig.SendIpi(rig.Apics[0], LogicalMode | 0x46, destination: 0x06);

        Assert.Equal([1, 2], Requested(rig, 0x46));
    }

    [Fact]
    public void LogicalCluster_MatchesTheClusterAndAMemberBit()
    {
        var rig = new ApicRig(3).Enabled();
        byte[] logicalIds = [0x11, 0x12, 0x21]; // cluster 1 members 0 and 1, cluster 2 member 0
        for (int i = 0; i < 3; i++)
        {
            rig.Apics[i].WriteRegister(LocalApic.Registers.Dfr, 0x0FFF_FFFF);
            rig.Apics[i].WriteRegister(LocalApic.Registers.Ldr, (uint)logicalIds[i] << 24);
        }

        ApicRig.SendIpi(rig.Apics[0], LogicalMode | 0x47, destination: 0x13);

        Assert.Equal([0, 1], Requested(rig, 0x47));
    }

    [Fact]
    public void LogicalBroadcast_ReachesEveryApic_EvenWithAnEmptyLdr()
    {
        var rig = new ApicRig(2).Enabled();

        ApicRig.SendIpi(rig.Apics[0], LogicalMode | 0x48, destination: 0xFF);

        Assert.Equal([0, 1], Requested(rig, 0x48));
    }

    [Fact]
    public void LowestPriority_GoesToTheOneApicWithTheLowestTpr()
    {
        var rig = new ApicRig(3).Enabled();
        rig.Apics[0].WriteRegister(LocalApic.Registers.Tpr, 0x20);
        rig.Apics[1].WriteRegister(LocalApic.Registers.Tpr, 0x10);
        rig.Apics[2].WriteRegister(LocalApic.Registers.Tpr, 0x30);

        ApicRig.SendIpi(rig.Apics[0], LowestPriority | 0x49, destination: 0xFF);

        Assert.Equal([1], Requested(rig, 0x49));
    }

    [Fact]
    public void LowestPriority_TiesGoRoundRobin()
    {
        var rig = new ApicRig(3).Enabled();

        ApicRig.SendIpi(rig.Apics[0], LowestPriority | 0x4A, destination: 0xFF);
        ApicRig.SendIpi(rig.Apics[0], LowestPriority | 0x4B, destination: 0xFF);
        ApicRig.SendIpi(rig.Apics[0], LowestPriority | 0x4C, destination: 0xFF);

        int[] winners = [.. Requested(rig, 0x4A), .. Requested(rig, 0x4B), .. Requested(rig, 0x4C)];
        Assert.Equal([0, 1, 2], winners.Order());
    }

    [Fact]
    public void LowestPriority_SkipsASoftwareDisabledApic()
    {
        var rig = new ApicRig(2).Enabled();
        rig.Apics[0].WriteRegister(LocalApic.Registers.Tpr, 0xF0);
        rig.Apics[1].WriteRegister(LocalApic.Registers.Svr, 0xFF);

        ApicRig.SendIpi(rig.Apics[0], LowestPriority | 0x4D, destination: 0xFF);

        Assert.Equal([0], Requested(rig, 0x4D));
    }

    [Fact]
    public void InitAssertDeassertThenTwoStartups_AsLinuxSendsThem_StartTheApOnce()
    {
        var rig = new ApicRig(2).Enabled();
        LocalApic bsp = rig.Apics[0];

        ApicRig.SendIpi(bsp, LevelTrigger | Assert_ | Init, destination: 1);
        ApicRig.SendIpi(bsp, LevelTrigger | Init, destination: 1); // INIT level de-assert: ignored
        ApicRig.SendIpi(bsp, Startup | 0x9F, destination: 1);
        ApicRig.SendIpi(bsp, Startup | 0x9F, destination: 1);

        Assert.Equal(1, rig.Cpus[1].Inits);
        Assert.Equal([0x9F], rig.Cpus[1].Startups);
        Assert.Equal(0, rig.Cpus[0].Inits);
        Assert.False(rig.Apics[1].WaitingForStartup);
    }

    [Fact]
    public void InitToAllExcludingSelf_ResetsEveryAp_NotTheSender()
    {
        var rig = new ApicRig(3).Enabled();

        ApicRig.SendIpi(rig.Apics[0], AllExcludingSelf | Assert_ | Init);

        Assert.Equal([0, 1, 1], rig.Cpus.Select(c => c.Inits));
        Assert.Equal(0x1FFu, rig.Apics[0].ReadRegister(LocalApic.Registers.Svr));
        Assert.Equal(0xFFu, rig.Apics[1].ReadRegister(LocalApic.Registers.Svr));
    }

    [Fact]
    public void NmiIpi_ReachesTheCpuAsAnNmi_NotAVector()
    {
        var rig = new ApicRig(2).Enabled();

        ApicRig.SendIpi(rig.Apics[0], Nmi | 0x50, destination: 1);

        Assert.Equal(1, rig.Cpus[1].Nmis);
        Assert.Empty(Requested(rig, 0x50));
    }

    [Fact]
    public void IcrLow_ReadsBackItsFields_WithDeliveryStatusIdleAndReservedBitsClear()
    {
        var rig = new ApicRig(2).Enabled();

        // Vector 0x51, fixed, logical, level assert, level trigger; also the status bit 12 and reserved bits 13, 20-31.
        ApicRig.SendIpi(rig.Apics[0], 0xFFF0_F851, destination: 1);

        Assert.Equal(0x0000_C851u, rig.Apics[0].ReadRegister(LocalApic.Registers.IcrLow));
    }

    [Fact]
    public void IpiWithAnIllegalVector_IsNotSent_AndSetsSendIllegalVectorInEsr()
    {
        var rig = new ApicRig(2).Enabled();

        ApicRig.SendIpi(rig.Apics[0], 0x0F, destination: 1);
        rig.Apics[0].WriteRegister(LocalApic.Registers.Esr, 0);

        Assert.Equal(LocalApic.ErrorSendIllegalVector, rig.Apics[0].ReadRegister(LocalApic.Registers.Esr));
        Assert.Equal(0u, rig.Apics[1].ReadRegister(LocalApic.Registers.Irr));
    }

    [Fact]
    public void FixedIpi_ToASoftwareDisabledApic_IsDropped()
    {
        var rig = new ApicRig(2);
        rig.Apics[0].WriteRegister(LocalApic.Registers.Svr, ApicRig.SvrEnabled);

        ApicRig.SendIpi(rig.Apics[0], 0x52, destination: 1);

        Assert.Empty(Requested(rig, 0x52));
    }

    [Fact]
    public void Reset_PowersEveryApicOn()
    {
        var rig = new ApicRig(2).Enabled();

        rig.Bus.Reset();

        Assert.All(rig.Apics, a => Assert.Equal(0xFFu, a.ReadRegister(LocalApic.Registers.Svr)));
    }

    /// <summary>
    /// Two vCPU threads send each other fixed IPIs through the page while a third drives I/O APIC lines at both: two
    /// edge pins, and a level pin of a "device" that holds the line asserted while a request is queued; its handler
    /// takes the request and lowers the line before its EOI, and the next request may come at any point, so it races
    /// Remote IRR and the EOI broadcast. Edge senders wait until their previous request was taken before the next (the IRR has one bit
    /// per vector, so two unserved requests of one vector would be one interrupt): every request is then delivered
    /// exactly once. A lost one leaves a sender or the device waiting (the hang guard fails the test); a duplicate
    /// shows in the counts. No timing is asserted.
    /// </summary>
    [Fact]
    public void ConcurrentIpisAndLines_EveryRequestIsDeliveredExactlyOnce()
    {
        const int Ipis = 2_000;
        const int LineRounds = 500;
        const byte IpiVector0To1 = 0x60;
        const byte IpiVector1To0 = 0x61;
        const byte EdgeVector0 = 0x31;
        const byte EdgeVector1 = 0x32;
        const byte LevelVector0 = 0x39;
        const int EdgePin0 = 1;
        const int EdgePin1 = 3;
        const int LevelPin = 9;

        var rig = new ApicRig(2).Enabled();
        var ioApic = new IoApic(rig.Bus, id: 2);
        void Program(int pin, uint low, byte destination)
        {
            ioApic.Write(0, IoApic.RegisterSelectOffset, 4, (ulong)(IoApic.RedirectionTableBase + (2 * pin) + 1));
            ioApic.Write(0, IoApic.WindowOffset, 4, (ulong)destination << 24);
            ioApic.Write(0, IoApic.RegisterSelectOffset, 4, (ulong)(IoApic.RedirectionTableBase + (2 * pin)));
            ioApic.Write(0, IoApic.WindowOffset, 4, low);
        }
        Program(EdgePin0, EdgeVector0, destination: 0);
        Program(EdgePin1, EdgeVector1, destination: 1);
        Program(LevelPin, (1 << 15) | LevelVector0, destination: 0);

        var counts = new int[2, 256];
        var device = new Lock();
        int deviceQueued = 0;
        int deviceServed = 0;
        int Count(int cpu, byte vector) => Volatile.Read(ref counts[cpu, vector]);
        DateTime giveUpAt = DateTime.UtcNow + TestDeadlines.Seconds(60);

        Exception? failure = null;
        void Vcpu(int index)
        {
            try
            {
                rig.Bus.EnterVcpu(index);
                LocalApic own = rig.Apics[index];
                byte sendVector = index == 0 ? IpiVector0To1 : IpiVector1To0;
                int other = 1 - index;
                int sent = 0;
                byte expectedLineVector = index == 0 ? EdgeVector0 : EdgeVector1;
                while (sent < Ipis || Count(index, index == 0 ? IpiVector1To0 : IpiVector0To1) < Ipis || Count(index, expectedLineVector) < LineRounds
                       || (index == 0 && Volatile.Read(ref deviceServed) < LineRounds))
                {
                    while (own.HasPendingInterrupt)
                    {
                        byte vector = own.AcknowledgeInterrupt();
                        if (vector == LevelVector0)
                        {
                            lock (device) // the handler takes every queued request and quietens the device, then ends the interrupt
                            {
                                Volatile.Write(ref deviceServed, deviceServed + deviceQueued);
                                deviceQueued = 0;
                                ioApic.SetLine(LevelPin, false);
                            }
                            Thread.Yield(); // the rest of the handler: a request may come now, before the EOI
                        }
                        Interlocked.Increment(ref counts[index, vector]);
                        rig.Bus.Write(0, LocalApic.Registers.Eoi, 4, 0);
                    }
                    if (sent < Ipis && Count(other, sendVector) == sent)
                    {
                        rig.Bus.Write(0, LocalApic.Registers.IcrHigh, 4, (ulong)other << 24);
                        rig.Bus.Write(0, LocalApic.Registers.IcrLow, 4, sendVector);
                        sent++;
                    }
                    if (DateTime.UtcNow > giveUpAt)
                        throw new TimeoutException($"vCPU {index} stuck: a request was lost");
                    Thread.Yield();
                }
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref failure, ex, null);
            }
        }

        void Lines()
        {
            try
            {
                int edgeRounds = 0;
                int levelRequests = 0;
                while (edgeRounds < LineRounds || levelRequests < LineRounds)
                {
                    // A level request whenever the handler has taken the last one: it comes at any point of the
                    // handler, often between its quietening the device and its EOI, while Remote IRR is still set.
                    lock (device)
                    {
                        if (levelRequests < LineRounds && deviceQueued == 0)
                        {
                            deviceQueued = 1;
                            levelRequests++;
                            ioApic.SetLine(LevelPin, true);
                        }
                    }
                    if (edgeRounds < LineRounds && Count(0, EdgeVector0) == edgeRounds && Count(1, EdgeVector1) == edgeRounds)
                    {
                        ioApic.SetLine(EdgePin0, true);
                        ioApic.SetLine(EdgePin0, false);
                        ioApic.SetLine(EdgePin1, true);
                        ioApic.SetLine(EdgePin1, false);
                        edgeRounds++;
                    }
                    if (DateTime.UtcNow > giveUpAt)
                        throw new TimeoutException($"lines stuck after {edgeRounds} edge rounds and {levelRequests} level requests: a request was lost");
                    Thread.Yield();
                }
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref failure, ex, null);
            }
        }

        Thread[] threads = [new(() => Vcpu(0)), new(() => Vcpu(1)), new(Lines)];
        foreach (Thread thread in threads)
            thread.Start();
        foreach (Thread thread in threads)
            thread.Join();

        Assert.Null(failure);
        Assert.Equal(Ipis, counts[1, IpiVector0To1]);
        Assert.Equal(Ipis, counts[0, IpiVector1To0]);
        Assert.Equal(LineRounds, counts[0, EdgeVector0]);
        Assert.Equal(LineRounds, counts[1, EdgeVector1]);
        Assert.Equal(LineRounds, deviceServed);
        Assert.Equal(LineRounds, counts[0, LevelVector0]); // one request queued at a time: one interrupt each
        Assert.Equal(Ipis + (2 * LineRounds), Enumerable.Range(0, 256).Sum(v => counts[0, v]));
        Assert.Equal(Ipis + LineRounds, Enumerable.Range(0, 256).Sum(v => counts[1, v]));
        Assert.All(rig.Apics, a => Assert.False(a.HasPendingInterrupt));
        Assert.Equal(0UL, ioApic.RedirectionEntry(LevelPin) & IoApic.RemoteIrr);
    }
}
