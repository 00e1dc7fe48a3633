using System.Diagnostics;
using SplitEmu.Launch.Bench;
using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Transport;

/// <summary>A device process that scribbles garbage over its segment is contained: reported, never a throw or a hang.</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class ScribbledSegmentTests
{
    /// <summary>Deadline of each call: long enough for a loaded machine, short enough to bound a broken test.</summary>
    private static long Deadline => Stopwatch.GetTimestamp() + Stopwatch.Frequency * 10;

    [Fact]
    public async Task DeviceScribblingOverItsSegment_IsReportedAsAProtocolError_OnEveryLaterCall()
    {
        await using BenchDeviceProcess device = await BenchDeviceProcess.StartAsync(
            BenchTransportKind.Ring, WaitSettings.Handoff, servingCore: null, withRpc: false, TextWriter.Null, CancellationToken.None,
            TransportFault.ScribbleSegment);
        RingRequester ring = (RingRequester)device.Transport;

        (RingCallStatus First, RingCallStatus Second, RingCallStatus Post, bool Event) outcome = await Task.Run(() =>
        {
            RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 4 };
            RingCallStatus first = ring.Call(ref read, out _, Deadline); // the device scribbles instead of replying
            RingCallStatus second = ring.Call(ref read, out _, Deadline);
            RingMessage write = new() { Kind = MessageKind.PostedWrite, AccessSize = 4, Value = 1 };
            RingCallStatus post = ring.Post(ref write, Deadline);
            bool gotEvent = ring.TryTakeEvent(out _);
            return (first, second, post, gotEvent);
        }).WaitAsync(TestDeadlines.Seconds(60));

        Assert.Equal(RingCallStatus.ProtocolError, outcome.First);
        Assert.Equal(RingCallStatus.ProtocolError, outcome.Second);
        Assert.Equal(RingCallStatus.ProtocolError, outcome.Post);
        Assert.False(outcome.Event, "a garbage event was handed out");
        Assert.True(ring.IsFaulted);
    }

    [Fact]
    public unsafe void RequestKindInTheEventRing_IsNeverApplied_AndFaultsTheDevice()
    {
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester ring = new(segment.CpuSide, WaitSettings.Handoff);
        RingSlot* slot = segment.DeviceSide.EventSlots;
        slot->Message = new RingMessage { Kind = MessageKind.Read, Offset = 4, Value = 1 }; // looks published, is no event
        Volatile.Write(ref slot->Sequence, 1UL);

        bool taken = ring.TryTakeEvent(out RingMessage message);

        Assert.False(taken);
        Assert.Equal(MessageKind.None, message.Kind);
        Assert.True(ring.IsFaulted);
    }

    [Fact]
    public async Task FaultedTransport_EventWaitSleeps_InsteadOfReturningAtOnce()
    {
        const int Waits = 5;
        const long WaitMicroseconds = 20_000; // 5 x 20 ms: at least ~100 ms if each wait sleeps
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester ring = new(segment.CpuSide, WaitSettings.Handoff);
        PublishBadEvent(segment);
        Assert.False(ring.TryTakeEvent(out _)); // faults the transport; the garbage stays "ready"

        int returned = await Task.Run(() =>
        {
            int count = 0;
            System.Diagnostics.Stopwatch elapsed = System.Diagnostics.Stopwatch.StartNew();
            while (elapsed.ElapsedMilliseconds < 50)
            {
                ring.WaitForEvent(WaitMicroseconds);
                count++;
            }

            return count;
        }).WaitAsync(TestDeadlines.Seconds(30));

        Assert.True(returned <= Waits, $"the event wait returned {returned} times in 50 ms: it spins on the faulted ring");
    }

    private static unsafe void PublishBadEvent(TestSegment segment)
    {
        RingSlot* slot = segment.DeviceSide.EventSlots;
        slot->Message = new RingMessage { Kind = MessageKind.Read };
        Volatile.Write(ref slot->Sequence, 1UL);
    }
}
