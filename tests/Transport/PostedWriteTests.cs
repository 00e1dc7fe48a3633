using System.Diagnostics;
using SplitEmu.DeviceHost.Devices.Bench;
using SplitEmu.Launch.Bench;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Transport;

/// <summary>Posted writes: no reply, a batched doorbell, and the ordering rule (a later read sees them all handled).</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class PostedWriteTests
{
    /// <summary>Far enough away never to matter; the test's own bound catches hangs.</summary>
    private static long FarDeadline => Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;

    public static TheoryData<BenchTransportKind, WaitPolicy> Transports { get; } = new()
    {
        { BenchTransportKind.Ring, WaitPolicy.Handoff },
        { BenchTransportKind.Ring, WaitPolicy.Hybrid },
        { BenchTransportKind.Socket, WaitPolicy.Handoff },
    };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task ReadAfterPostedWrites_SeesEveryWriteHandled_InOrder(BenchTransportKind kind, WaitPolicy policy)
    {
        const int Writes = 3_000; // more than ten times the ring: the full-ring drain runs too
        await using BenchDeviceProcess device = await BenchDeviceProcess.StartAsync(
            kind, new WaitSettings(policy, 200), servingCore: null, withRpc: false, TextWriter.Null, CancellationToken.None);
        IRequestTransport transport = device.Transport;

        ulong[] registers = await Task.Run(() =>
        {
            for (ulong value = 1; value <= Writes; value++)
            {
                RingMessage write = new() { Kind = MessageKind.PostedWrite, AccessSize = 8, Offset = BenchRegister.LastValueRegister, Value = value };
                Assert.Equal(RingCallStatus.Completed, transport.Post(ref write, FarDeadline));
            }

            return new[] { Read(transport, BenchRegister.WriteCountRegister), Read(transport, BenchRegister.LastValueRegister), Read(transport, BenchRegister.SumRegister) };
        }).WaitAsync(TestDeadlines.Seconds(60));

        Assert.Equal((ulong)Writes, registers[0]);
        Assert.Equal((ulong)Writes, registers[1]); // the last write posted is the last handled
        Assert.Equal((ulong)Writes * (Writes + 1) / 2, registers[2]);
    }

    [Fact]
    public async Task PostedWrites_InATinyRing_DrainWhenFull_AndWrapAround()
    {
        const int Writes = 10_000; // 1,250 trips around an 8-slot ring
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        WaitSettings wait = WaitSettings.Handoff with { SleepSliceMicroseconds = -1 }; // a lost wake-up hangs, and the bound fails
        RingRequester requester = new(segment.CpuSide, wait) { PostBatch = 3 };
        RingResponder responder = new(segment.DeviceSide, wait);
        int stop = 0;
        ulong handled = 0, last = 0;
        Thread device = new(() =>
        {
            while (responder.WaitForRequest(out RingMessage request, ref stop))
            {
                if (request.Kind == MessageKind.PostedWrite)
                {
                    handled++;
                    last = request.Value;
                    continue;
                }

                responder.Reply(new RingMessage
                {
                    Kind = request.Kind == MessageKind.Barrier ? MessageKind.BarrierDone : MessageKind.ReadDone,
                    Tag = request.Tag,
                    Value = handled,
                });
            }
        }) { IsBackground = true };
        device.Start();

        Task<ulong> client = Task.Run(() =>
        {
            for (ulong value = 1; value <= Writes; value++)
            {
                RingMessage write = new() { Kind = MessageKind.PostedWrite, AccessSize = 4, Value = value };
                Assert.Equal(RingCallStatus.Completed, requester.Post(ref write, FarDeadline));
            }

            return Read(requester, 0);
        });
        bool finished = await Task.WhenAny(client, Task.Delay(TestDeadlines.Seconds(60))) == client;
        Volatile.Write(ref stop, 1);
        responder.KickRequestWaiter();
        requester.MarkPeerDead();
        device.Join();

        Assert.True(finished, "posting stalled: a wake-up was lost or the full ring never drained");
        Assert.Equal((ulong)Writes, await client);
        Assert.Equal((ulong)Writes, last);
    }

    [Fact]
    public void Flush_WithNothingPosted_DoesNothing()
    {
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester requester = new(segment.CpuSide, WaitSettings.Handoff);

        requester.Flush();

        Assert.Equal(0UL, requester.RequestsSent);
    }

    [Fact]
    public void Post_OfARead_IsRefused()
    {
        using TestSegment segment = new(new RingGeometry(8, 8, 8));
        RingRequester requester = new(segment.CpuSide, WaitSettings.Handoff);
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 4 };

        Assert.Throws<ArgumentException>(() => requester.Post(ref read, FarDeadline));
    }

    private static ulong Read(IRequestTransport transport, ulong offset)
    {
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 8, Offset = offset };
        Assert.Equal(RingCallStatus.Completed, transport.Call(ref read, out RingMessage reply, FarDeadline));
        return reply.Value;
    }
}
