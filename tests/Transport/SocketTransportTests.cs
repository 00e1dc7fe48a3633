using System.Diagnostics;
using System.Net.Sockets;
using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Hosting;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;
using StreamJsonRpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Transport;

/// <summary>The socket transport: order, events, peer death and bad frames, all contained.</summary>
public sealed class SocketTransportTests
{
    /// <summary>How long a test waits for the device side to connect.</summary>
    private static readonly TimeSpan s_connectTimeout = TestDeadlines.Seconds(10);

    /// <summary>Far enough away never to matter; the test's own bound catches hangs.</summary>
    private static long FarDeadline => Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;

    [Fact]
    public async Task Requests_AreAnsweredInOrder()
    {
        const int Count = 2_000;
        using TempFolder folder = new();
        using Pair pair = Pair.Connect(folder.File("data.sock"));
        int stop = 0;
        Thread device = new(() => Echo(pair.Device, ref stop)) { IsBackground = true };
        device.Start();
        RingCallStatus[] statuses = new RingCallStatus[Count];
        ulong[] values = new ulong[Count];

        Task client = Task.Run(() =>
        {
            for (int i = 0; i < Count; i++)
            {
                RingMessage request = new() { Kind = MessageKind.Read, AccessSize = 4, Offset = (ulong)i };
                statuses[i] = pair.Cpu.Call(ref request, out RingMessage reply, FarDeadline);
                values[i] = reply.Value;
            }
        });
        bool finished = await Finishes(client, TestDeadlines.Seconds(60));
        Volatile.Write(ref stop, 1);
        pair.Device.KickRequestWaiter();
        device.Join();

        Assert.True(finished, "the round trips did not finish in time");
        Assert.All(statuses, s => Assert.Equal(RingCallStatus.Completed, s));
        Assert.Equal(Enumerable.Range(0, Count).Select(i => (ulong)i * 3), values);
    }

    [Fact]
    public async Task EventsSentByTheHandler_AreReadyWhenTheFlaggedReplyArrives()
    {
        using TempFolder folder = new();
        using Pair pair = Pair.Connect(folder.File("data.sock"));
        int stop = 0;
        Thread device = new(() =>
        {
            if (pair.Device.WaitForRequest(out RingMessage request, ref stop))
            {
                pair.Device.PostEvent(new RingMessage { Kind = MessageKind.IrqLevel, Offset = 4, Value = 1 });
                pair.Device.Reply(new RingMessage { Kind = MessageKind.ReadDone, Tag = request.Tag, Value = 7 });
            }
        }) { IsBackground = true };
        device.Start();
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 1 };

        RingCallStatus status = await Bounded(() => pair.Cpu.Call(ref read, out RingMessage reply, FarDeadline) == RingCallStatus.Completed
            && ((ReplyFlags)reply.Flags & ReplyFlags.EventsFirst) != 0 ? RingCallStatus.Completed : RingCallStatus.ProtocolError);
        bool gotEvent = pair.Cpu.TryTakeEvent(out RingMessage irq);
        device.Join();

        Assert.Equal(RingCallStatus.Completed, status);
        Assert.True(gotEvent, "the event sent before the reply was not ready");
        Assert.Equal(MessageKind.IrqLevel, irq.Kind);
        Assert.Equal(4UL, irq.Offset);
    }

    [Fact]
    public async Task DeviceSideClosing_WakesAWaitingCaller_WithPeerDead()
    {
        using TempFolder folder = new();
        using Pair pair = Pair.Connect(folder.File("data.sock"));
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 1 };
        Task<RingCallStatus> call = Task.Run(() => pair.Cpu.Call(ref read, out _, FarDeadline));
        await Task.Delay(50); // the caller waits for a reply nobody sends

        pair.Device.Dispose(); // what the kernel does when the device process dies

        Assert.True(await Finishes(call, TestDeadlines.Seconds(10)), "the waiting caller was not woken");
        Assert.Equal(RingCallStatus.PeerDead, await call);
        Assert.True(pair.Cpu.IsPeerDead);
    }

    [Fact]
    public async Task CpuSideClosing_EndsTheDeviceServer_InsteadOfSpinning()
    {
        using TempFolder folder = new();
        using Pair pair = Pair.Connect(folder.File("data.sock"));
        await using OutputForwarder output = new(new JsonRpc(Stream.Null));
        using DeviceTimers timers = new(0, () => { }, MachineClock.Host);
        using DeviceServer server = new(pair.Device, [], [], null, output, timers);
        await Task.Delay(250); // a receive slice or two with nothing to read: still serving
        Assert.True(server.IsServing);

        pair.Cpu.Dispose();

        Assert.True(ProcessTable.WaitUntil(() => !server.IsServing, TestDeadlines.Seconds(10)), "the serving thread went on after its socket closed");
    }

    [Fact]
    public async Task CpuSideClosing_EndsTheDeviceWait_AsClosed_NotAsAStop()
    {
        // A closed socket answers every receive at once: the serving loop must see "closed for good" and end,
        // or it spins a core asking again (its stop and timer wake-ups look the same as a plain false).
        using TempFolder folder = new();
        using Pair pair = Pair.Connect(folder.File("data.sock"));
        int stop = 0;
        Task<bool> slice = Task.Run(() => pair.Device.WaitForRequest(out _, ref stop));
        await Task.Delay(250); // at least one receive slice passes with nothing to read
        Assert.False(pair.Device.IsClosed, "an idle connection is not closed");

        pair.Cpu.Dispose();

        Assert.True(await Finishes(slice, TestDeadlines.Seconds(10)), "the device's wait was not ended by the close");
        Assert.False(await slice);
        Assert.True(pair.Device.IsClosed);
    }

    [Fact]
    public async Task PeerDeclaredDead_WakesAWaitingCaller_AndTheEventWaiter()
    {
        using TempFolder folder = new();
        using Pair pair = Pair.Connect(folder.File("data.sock"));
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 1 };
        Task<RingCallStatus> call = Task.Run(() => pair.Cpu.Call(ref read, out _, FarDeadline));
        Task events = Task.Run(() => pair.Cpu.WaitForEvent(60_000_000));
        await Task.Delay(50);

        pair.Cpu.MarkPeerDead();

        Assert.True(await Finishes(call, TestDeadlines.Seconds(10)), "the waiting caller was not woken");
        Assert.True(await Finishes(events, TestDeadlines.Seconds(10)), "the event waiter was not woken");
        Assert.Equal(RingCallStatus.PeerDead, await call);
    }

    [Fact]
    public async Task GarbageFrameAsReply_IsAProtocolError_AndStaysOne()
    {
        using TempFolder folder = new();
        string path = folder.File("data.sock");
        using SocketTransportListener listener = SocketTransportListener.Create(path);
        using Socket requests = RawConnect(path, SocketFrame.HelloRequests);
        using Socket events = RawConnect(path, SocketFrame.HelloEvents);
        using SocketRequester cpu = listener.Accept(s_connectTimeout);
        Task device = Task.Run(() =>
        {
            byte[] frame = new byte[SocketFrame.Size];
            ReceiveExactly(requests, frame);
            Array.Fill(frame, (byte)0xA5); // no magic, no valid type
            requests.Send(frame);
        });
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 1 };

        RingCallStatus first = await Bounded(() => cpu.Call(ref read, out _, FarDeadline));
        RingCallStatus second = await Bounded(() => cpu.Call(ref read, out _, FarDeadline));
        await device;

        Assert.Equal(RingCallStatus.ProtocolError, first);
        Assert.Equal(RingCallStatus.ProtocolError, second);
        Assert.True(cpu.IsFaulted);
    }

    [Fact]
    public async Task ReplyWithAnotherTag_IsAProtocolError()
    {
        using TempFolder folder = new();
        using Pair pair = Pair.Connect(folder.File("data.sock"));
        int stop = 0;
        Thread device = new(() =>
        {
            if (pair.Device.WaitForRequest(out RingMessage request, ref stop))
            {
                pair.Device.Reply(new RingMessage { Kind = MessageKind.ReadDone, Tag = request.Tag + 5 });
            }
        }) { IsBackground = true };
        device.Start();
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 1 };

        RingCallStatus status = await Bounded(() => pair.Cpu.Call(ref read, out _, FarDeadline));
        device.Join();

        Assert.Equal(RingCallStatus.ProtocolError, status);
    }

    [Fact]
    public async Task GarbageEventFrame_FaultsTheTransport_AndIsNotApplied()
    {
        using TempFolder folder = new();
        string path = folder.File("data.sock");
        using SocketTransportListener listener = SocketTransportListener.Create(path);
        using Socket requests = RawConnect(path, SocketFrame.HelloRequests);
        using Socket events = RawConnect(path, SocketFrame.HelloEvents);
        using SocketRequester cpu = listener.Accept(s_connectTimeout);
        byte[] garbage = new byte[SocketFrame.Size];
        Array.Fill(garbage, (byte)0x5A);
        events.Send(garbage);

        await Bounded(() =>
        {
            cpu.WaitForEvent(5_000_000);
            return RingCallStatus.Completed;
        });
        bool taken = cpu.TryTakeEvent(out _);

        Assert.False(taken);
        Assert.True(cpu.IsFaulted);
    }

    [Fact]
    public async Task DeviceThatNeverAnswers_TimesOutAtTheDeadline()
    {
        using TempFolder folder = new();
        using Pair pair = Pair.Connect(folder.File("data.sock"));
        RingMessage read = new() { Kind = MessageKind.Read, AccessSize = 1 };

        RingCallStatus status = await Bounded(() => pair.Cpu.Call(ref read, out _, Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20));

        Assert.Equal(RingCallStatus.TimedOut, status);
    }

    private static void Echo(SocketResponder responder, ref int stop)
    {
        while (responder.WaitForRequest(out RingMessage request, ref stop))
        {
            responder.Reply(new RingMessage { Kind = MessageKind.ReadDone, Tag = request.Tag, Value = request.Offset * 3 });
        }
    }

    private static async Task<RingCallStatus> Bounded(Func<RingCallStatus> call)
    {
        Task<RingCallStatus> task = Task.Run(call);
        Assert.True(await Finishes(task, TestDeadlines.Seconds(30)), "the call hung");
        return await task;
    }

    private static async Task<bool> Finishes(Task task, TimeSpan bound) => await Task.WhenAny(task, Task.Delay(bound)) == task;

    private static Socket RawConnect(string path, ulong role)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(path));
        byte[] hello = new byte[SocketFrame.Size];
        SocketFrame.Encode(hello, SocketFrameType.Hello, new RingMessage { Value = role });
        socket.Send(hello);
        return socket;
    }

    private static void ReceiveExactly(Socket socket, byte[] frame)
    {
        int filled = 0;
        while (filled < frame.Length)
        {
            int read = socket.Receive(frame, filled, frame.Length - filled, SocketFlags.None);
            if (read == 0)
            {
                return;
            }

            filled += read;
        }
    }

    /// <summary>Both ends of a socket transport in this process, as two processes would hold them.</summary>
    private sealed class Pair : IDisposable
    {
        private readonly SocketTransportListener _listener;

        private Pair(SocketTransportListener listener, SocketResponder device, SocketRequester cpu)
        {
            _listener = listener;
            Device = device;
            Cpu = cpu;
        }

        public SocketResponder Device { get; }

        public SocketRequester Cpu { get; }

        public static Pair Connect(string path)
        {
            SocketTransportListener listener = SocketTransportListener.Create(path);
            SocketResponder device = SocketResponder.Connect(path, WaitSettings.Handoff);
            return new Pair(listener, device, listener.Accept(s_connectTimeout));
        }

        public void Dispose()
        {
            Cpu.Dispose();
            Device.Dispose();
            _listener.Dispose();
        }
    }
}
