using System.Net.Sockets;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// The device side of the socket transport (see <see cref="SocketRequester"/>): a blocking receive per
/// request, a send per reply, events on their own connection from any thread.
/// </summary>
public sealed class SocketResponder : IRequestServer, IDisposable
{
    /// <summary>Longest single blocking receive: the serving thread re-checks its stop flag this often.</summary>
    private const int ReceiveSliceMilliseconds = 100;

    private readonly Socket _requests;
    private readonly Socket _events;
    private readonly Lock _eventGate = new();
    private readonly byte[] _replyFrame = new byte[SocketFrame.Size];
    private readonly byte[] _eventFrame = new byte[SocketFrame.Size];
    private readonly int? _pinnedCore;
    private bool _pinChecked;

    /// <summary>Events sent since the last reply (tells the CPU to take them before completing the access).</summary>
    private int _eventsSinceReply;

    private SocketResponder(Socket requests, Socket events, int? pinnedCore)
    {
        _requests = requests;
        _events = events;
        _pinnedCore = pinnedCore;
        _requests.ReceiveTimeout = ReceiveSliceMilliseconds;
    }

    /// <inheritdoc/>
    public bool IsClosed { get; private set; }

    /// <summary>Events dropped because the connection was gone.</summary>
    public long EventsDropped { get; private set; }

    /// <summary>
    /// Connects to the CPU side's <see cref="SocketTransportListener"/> at <paramref name="path"/>: the request
    /// connection, then the event connection, each announced by a hello frame.
    /// </summary>
    public static SocketResponder Connect(string path, WaitSettings wait)
    {
        Socket requests = ConnectOne(path, SocketFrame.HelloRequests);
        try
        {
            Socket events = ConnectOne(path, SocketFrame.HelloEvents);
            return new SocketResponder(requests, events, wait.PinnedCore);
        }
        catch
        {
            requests.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public bool WaitForRequest(out RingMessage request, ref int stop)
    {
        if (!_pinChecked)
        {
            _pinChecked = true;
            if (_pinnedCore is int core)
            {
                ThreadAffinity.PinCurrentThread(core);
            }
        }

        Span<byte> frame = stackalloc byte[SocketFrame.Size];
        int filled = 0;
        while (Volatile.Read(ref stop) == 0)
        {
            int read = SocketFrame.Receive(_requests, frame[filled..], dontWait: false, out SocketError error);
            if (error == SocketError.Success && read > 0)
            {
                filled += read;
                if (filled < frame.Length)
                {
                    continue;
                }

                if (SocketFrame.TryDecode(frame, out SocketFrameType type, out request) && type == SocketFrameType.Request)
                {
                    return true;
                }

                IsClosed = true; // the CPU side never sends garbage; stop serving rather than guess
                break;
            }

            if (error is not (SocketError.WouldBlock or SocketError.TimedOut or SocketError.TryAgain or SocketError.Interrupted))
            {
                IsClosed = true; // read 0 (closed) or broken: the CPU side is gone or stopped us
                break;
            }
        }

        request = default;
        return false;
    }

    /// <inheritdoc/>
    public void KickRequestWaiter()
    {
        try
        {
            _requests.Shutdown(SocketShutdown.Receive);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    /// <inheritdoc/>
    public void Reply(RingMessage reply)
    {
        if (Interlocked.Exchange(ref _eventsSinceReply, 0) != 0)
        {
            reply.Flags |= (ushort)ReplyFlags.EventsFirst;
        }

        SocketFrame.Encode(_replyFrame, SocketFrameType.Reply, in reply);
        SocketFrame.SendAll(_requests, _replyFrame); // a gone CPU side shows up in the next receive
    }

    /// <inheritdoc/>
    public bool PostEvent(in RingMessage message)
    {
        lock (_eventGate)
        {
            SocketFrame.Encode(_eventFrame, SocketFrameType.Event, in message);
            if (!SocketFrame.SendAll(_events, _eventFrame))
            {
                EventsDropped++;
                return false;
            }

            // After the send: the CPU can read the event before it reads a reply flagged EventsFirst.
            Interlocked.Increment(ref _eventsSinceReply);
            return true;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _requests.Dispose();
        _events.Dispose();
    }

    private static Socket ConnectOne(string path, ulong role)
    {
        Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            Span<byte> hello = stackalloc byte[SocketFrame.Size];
            SocketFrame.Encode(hello, SocketFrameType.Hello, new RingMessage { Value = role });
            if (!SocketFrame.SendAll(socket, hello))
            {
                throw new IOException($"could not send a hello on {path}");
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
