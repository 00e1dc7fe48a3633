using SplitEmu.CpuHost.Dispatch;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Dispatch;

/// <summary>How the CPU side of a device process applies its events. Real ring, real event pump; the test plays the device.</summary>
public sealed class DeviceChannelEventTests
{
    private const int Line = 14;

    [Fact]
    public void RetiredIncarnation_HandsOverItsHeldLines_AndRaisesNoneAfterwards()
    {
        // When a device process is replaced its lines are lowered once; an interrupt-line event of the old
        // incarnation applied after that must not raise the line again (it would stay high and swallow the
        // successor's next rising edge).
        using TestSegment segment = new(RingGeometry.Default);
        DeviceProcessRecord process = new("ide", [new DeviceConfig { Id = "ide", Type = "piix3-ide" }], new MachineClockSource());
        List<MessageKind> applied = [];
        using ManualResetEventSlim markerSeen = new();
        EventSinkSpy machine = new()
        {
            Applied = (kind, _) =>
            {
                lock (applied)
                {
                    applied.Add(kind);
                }

                if (kind == MessageKind.DmaWritten)
                {
                    markerSeen.Set();
                }
            },
        };

        using DeviceChannel channel = new(process, 0, segment.CpuSide, new RingRequester(segment.CpuSide, WaitSettings.Handoff), machine);
        RingResponder device = new(segment.DeviceSide, WaitSettings.Handoff);

        device.PostEvent(new RingMessage { Kind = MessageKind.IrqLevel, Offset = Line, Value = 1 });
        device.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Offset = 0, Value = 0 }); // marker: all before it applied
        Assert.True(markerSeen.Wait(TestDeadlines.Seconds(10)), "the event pump did not apply the first events");
        int handedOver = channel.Retire();
        markerSeen.Reset();
        device.PostEvent(new RingMessage { Kind = MessageKind.IrqLevel, Offset = Line, Value = 1 }); // late, from the dead one
        device.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Offset = 0, Value = 0 });
        Assert.True(markerSeen.Wait(TestDeadlines.Seconds(10)), "the event pump did not apply the late events");

        Assert.Equal(1 << Line, handedOver);
        lock (applied)
        {
            Assert.Equal([MessageKind.IrqLevel, MessageKind.DmaWritten, MessageKind.DmaWritten], applied); // the late raise never reached the machine
        }

        Assert.Equal(0, channel.Retire()); // the refused raise was not noted as held either
    }

    [Fact]
    public async Task DmaInvalidationsOfALongScatterList_AreNoEventFlood()
    {
        // A READ DMA through thousands of PRD entries posts one DmaWritten per entry while the access is in
        // flight: more than the events held for an access (4096). They are applied as they come, so the device is
        // not faulted, and every one reaches the CPU before the access completes.
        const int Entries = 5_000;
        using TestSegment segment = new(RingGeometry.Default);
        DeviceProcessRecord process = new("ide", [new DeviceConfig { Id = "ide", Type = "piix3-ide" }], new MachineClockSource());
        int invalidations = 0;
        string? fault = null;
        using DeviceChannel channel = new(
            process, 0, segment.CpuSide, new RingRequester(segment.CpuSide, WaitSettings.Handoff),
            new EventSinkSpy
            {
                Applied = (kind, _) => { if (kind == MessageKind.DmaWritten) Interlocked.Increment(ref invalidations); },
                Faulted = why => fault ??= why,
            });
        channel.Bind(Environment.ProcessId);
        RingResponder device = new(segment.DeviceSide, WaitSettings.Handoff);
        int stop = 0;
        Task serving = Task.Run(() =>
        {
            if (device.WaitForRequest(out RingMessage request, ref stop))
            {
                for (int i = 0; i < Entries; i++)
                {
                    device.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Flags = (ushort)EventFlags.DuringAccess, Offset = 0x10_0000 + (ulong)i * 4, Value = 2 });
                }

                device.Reply(new RingMessage { Kind = MessageKind.ReadDone, Tag = request.Tag, Value = 0x04 });
            }
        });

        ulong status = await Task.Run(() => channel.HandlerFor(0, 0).Read(0, 1)).WaitAsync(TestDeadlines.Seconds(60));
        int seenByThen = Volatile.Read(ref invalidations);
        await serving.WaitAsync(TestDeadlines.Seconds(10));

        Assert.Null(fault);
        Assert.Equal(0x04UL, status);
        Assert.Equal(Entries, seenByThen);
    }

    [Fact]
    public async Task ControlReply_FlaggedEventsFirst_DoesNotWaitForTheEventPump_AndTheNextAccessTakesTheEvents()
    {
        // The map sends RegionsBack/Barrier while holding its gate; the pump may be applying a map change (which
        // wants that gate) while it holds the event gate. A control reply flagged EventsFirst must therefore not
        // drain events itself: the debt passes to the next guest access, which drains before it completes.
        using TestSegment segment = new(RingGeometry.Default);
        DeviceProcessRecord process = new("dev", [new DeviceConfig { Id = "dev", Type = "testdev" }], new MachineClockSource());
        using ManualResetEventSlim pumpHolding = new();
        using ManualResetEventSlim releasePump = new();
        int secondApplied = 0;
        using DeviceChannel channel = new(
            process, 0, segment.CpuSide, new RingRequester(segment.CpuSide, WaitSettings.Handoff),
            new EventSinkSpy
            {
                Applied = (_, address) =>
                {
                    if (address == 1)
                    {
                        pumpHolding.Set();
                        releasePump.Wait(TestDeadlines.Seconds(20)); // the pump sits in an apply, holding the event gate
                    }
                    else
                    {
                        Interlocked.Exchange(ref secondApplied, 1);
                    }
                },
            });
        channel.Bind(Environment.ProcessId);
        RingResponder device = new(segment.DeviceSide, WaitSettings.Handoff);
        int stop = 0;
        Task serving = Task.Run(() =>
        {
            for (int served = 0; served < 2 && device.WaitForRequest(out RingMessage request, ref stop); served++)
            {
                MessageKind done = request.Kind == MessageKind.Barrier ? MessageKind.BarrierDone : MessageKind.ReadDone;
                device.Reply(new RingMessage { Kind = done, Tag = request.Tag, Device = request.Device });
            }
        });
        try
        {
            device.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Offset = 1, Value = 0 });
            Assert.True(pumpHolding.Wait(TestDeadlines.Seconds(10)), "the pump did not take the first event");
            device.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Offset = 2, Value = 0 }); // waits behind the pump

            Task<bool> barrier = Task.Run(() => channel.LinkFor(0).Barrier());
            bool barrierReturned = await Task.WhenAny(barrier, Task.Delay(TestDeadlines.Seconds(5))) == barrier;
            releasePump.Set();
            ulong value = await Task.Run(() => channel.HandlerFor(0, 0).Read(0, 1)).WaitAsync(TestDeadlines.Seconds(30));
            int appliedByThen = Volatile.Read(ref secondApplied);

            Assert.True(barrierReturned, "the barrier waited for the event pump (the map's gate would deadlock here)");
            Assert.True(await barrier);
            Assert.Equal(0UL, value);
            Assert.Equal(1, appliedByThen);
        }
        finally
        {
            releasePump.Set();
            await serving.WaitAsync(TestDeadlines.Seconds(10));
        }
    }
}
