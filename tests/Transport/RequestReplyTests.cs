using System.Diagnostics;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Transport;

/// <summary>Round trips between a requester and a responder: no lost wake-up, deaths and bad replies contained.</summary>
public sealed class RequestReplyTests
{
    /// <summary>Far enough away never to matter; the test's own bound catches hangs.</summary>
    private static long FarDeadline => Stopwatch.GetTimestamp() + Stopwatch.Frequency * 600;

    [Theory]
    [InlineData(WaitPolicy.Handoff)]
    [InlineData(WaitPolicy.Hybrid)]
    public async Task RandomlyDelayedRoundTrips_NeverLoseAWakeUp(WaitPolicy policy)
    {
        const int RoundTrips = 20_000;
        // No sleep slice: a lost wake-up would sleep forever and trip the bound below instead of hiding.
        WaitSettings wait = new(policy, SpinBudget: 50) { SleepSliceMicroseconds = -1 };
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester requester = new(segment.CpuSide, wait);
        RingResponder responder = new(segment.DeviceSide, wait);
        int stop = 0;
        Thread device = new(() => Echo(responder, ref stop, seed: 2)) { IsBackground = true };
        device.Start();
        Random random = new(1);
        long completed = 0;

        Task client = Task.Run(() =>
        {
            for (int i = 0; i < RoundTrips; i++)
            {
                Jitter(random);
                RingMessage request = new() { Kind = MessageKind.Read, AccessSize = 4, Offset = (ulong)i };
                RingCallStatus status = requester.Call(ref request, out RingMessage reply, FarDeadline);
                Assert.Equal(RingCallStatus.Completed, status);
                Assert.Equal((ulong)i * 3, reply.Value);
                completed++;
            }
        });
        bool finished = await Finishes(client, TestDeadlines.Seconds(120));
        Volatile.Write(ref stop, 1);
        responder.KickRequestWaiter();
        requester.MarkPeerDead(); // releases a client stuck on a lost wake-up
        device.Join();

        Assert.True(finished, $"stalled after {completed} of {RoundTrips} round trips: a wake-up was lost");
        await client;
    }

    [Fact]
    public async Task EventPostedOutsideAHandler_FlagsTheNextReply_SoTheCpuTakesItFirst()
    {
        // A posted write's handler or a timer raises events with no access of its own to wait on: the next
        // reply must still say EventsFirst, or the guest could see that access complete (a DMA done) before the
        // event (the DMA'd code dropped from the decoded cache) took effect.
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester requester = new(segment.CpuSide, WaitSettings.Handoff);
        RingResponder responder = new(segment.DeviceSide, WaitSettings.Handoff);
        int stop = 0;
        Task device = Task.Run(() =>
        {
            responder.PostEvent(new RingMessage { Kind = MessageKind.DmaWritten, Offset = 0x7C00, Value = 512 }); // not DuringAccess
            for (int i = 0; i < 2 && responder.WaitForRequest(out RingMessage request, ref stop); i++)
            {
                responder.Reply(new RingMessage { Kind = MessageKind.ReadDone, Tag = request.Tag });
            }
        });
        RingMessage first = new() { Kind = MessageKind.Read, AccessSize = 1 };
        RingMessage second = new() { Kind = MessageKind.Read, AccessSize = 1 };

        long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
        RingCallStatus firstStatus = requester.Call(ref first, out RingMessage firstReply, deadline);
        RingCallStatus secondStatus = requester.Call(ref second, out RingMessage secondReply, deadline);
        Assert.True(await Finishes(device, TestDeadlines.Seconds(30)), "the device side did not finish");

        Assert.Equal(RingCallStatus.Completed, firstStatus);
        Assert.Equal(RingCallStatus.Completed, secondStatus);
        Assert.NotEqual(0, firstReply.Flags & (ushort)ReplyFlags.EventsFirst);
        Assert.Equal(0, secondReply.Flags & (ushort)ReplyFlags.EventsFirst); // nothing new since the first
    }

    [Fact]
    public async Task PeerDeclaredDead_WakesAWaitingCaller_WithPeerDead()
    {
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester requester = new(segment.CpuSide, WaitSettings.Handoff with { SleepSliceMicroseconds = -1 });
        RingMessage request = new() { Kind = MessageKind.Read, AccessSize = 1 };
        Task<RingCallStatus> call = Task.Run(() => requester.Call(ref request, out _, FarDeadline));
        await Task.Delay(50); // the caller is asleep: nobody serves the request

        requester.MarkPeerDead();

        Assert.True(await Finishes(call, TestDeadlines.Seconds(10)), "the waiting caller was not woken");
        Assert.Equal(RingCallStatus.PeerDead, await call);
    }

    [Fact]
    public void DeviceThatNeverAnswers_TimesOutAtTheDeadline()
    {
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester requester = new(segment.CpuSide, WaitSettings.Handoff);
        RingMessage request = new() { Kind = MessageKind.Read, AccessSize = 1 };

        RingCallStatus status = requester.Call(ref request, out _, Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20);

        Assert.Equal(RingCallStatus.TimedOut, status);
    }

    [Fact]
    public void ReplyWithAnotherTag_IsAProtocolError()
    {
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester requester = new(segment.CpuSide, WaitSettings.Handoff);
        RingResponder responder = new(segment.DeviceSide, WaitSettings.Handoff);
        int stop = 0;
        Thread device = new(() =>
        {
            if (responder.WaitForRequest(out RingMessage request, ref stop))
            {
                responder.Reply(new RingMessage { Kind = MessageKind.ReadDone, Tag = request.Tag + 5 });
            }
        });
        device.Start();
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 1 };

        RingCallStatus status = requester.Call(ref read, out _, FarDeadline);
        Volatile.Write(ref stop, 1);
        responder.KickRequestWaiter();
        device.Join();

        Assert.Equal(RingCallStatus.ProtocolError, status);
    }

    private static async Task<bool> Finishes(Task task, TimeSpan bound) => await Task.WhenAny(task, Task.Delay(bound)) == task;

    private static void Echo(RingResponder responder, ref int stop, int seed)
    {
        Random random = new(seed);
        while (responder.WaitForRequest(out RingMessage request, ref stop))
        {
            Jitter(random);
            responder.Reply(new RingMessage { Kind = MessageKind.ReadDone, Tag = request.Tag, Value = request.Offset * 3 });
        }
    }

    /// <summary>Random small delays move each side's sleep announcement around the other's publication.</summary>
    private static void Jitter(Random random)
    {
        switch (random.Next(8))
        {
            case 0:
                Thread.Yield();
                break;
            case 1:
                Thread.SpinWait(random.Next(1, 500));
                break;
            case 2:
                Thread.Sleep(0);
                break;
        }
    }
}
