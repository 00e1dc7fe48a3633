using System.Diagnostics;
using System.Net.Sockets;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// The CPU side of the socket transport: one 64-byte frame per access over a UNIX domain socket, a blocking
/// send and a blocking receive per round trip (QEMU multi-process, vfio-user). Events come on a second
/// connection so the event pump never competes with the vCPU for the reply. It is the baseline the rings are
/// measured against and the base for devices on other machines. Like <see cref="RingRequester"/> it never
/// throws for anything the device does: a closed connection is <see cref="RingCallStatus.PeerDead"/>, a bad
/// frame or reply <see cref="RingCallStatus.ProtocolError"/> (sticky).
/// </summary>
public sealed class SocketRequester : IRequestTransport, IDisposable
{
    /// <summary>Longest single blocking receive: a waiter re-checks peer death and its deadline this often.</summary>
    private const int ReceiveSliceMilliseconds = 100;

    private readonly Socket _requests;
    private readonly Socket _events;
    private readonly Lock _callGate = new();
    private readonly Lock _eventGate = new();

    /// <summary>Bytes of a partly received event frame (under <see cref="_eventGate"/>).</summary>
    private readonly byte[] _eventFrame = new byte[SocketFrame.Size];

    /// <summary>How many bytes of <see cref="_eventFrame"/> are filled.</summary>
    private int _eventFilled;

    /// <summary>Tag of the last request sent.</summary>
    private ulong _lastTag;

    private volatile int _peerDead;
    private volatile int _faulted;

    /// <summary>Wraps two connected sockets (see <see cref="SocketTransportListener.Accept"/>).</summary>
    public SocketRequester(Socket requests, Socket events)
    {
        _requests = requests;
        _events = events;
        _requests.ReceiveTimeout = ReceiveSliceMilliseconds;
        _requests.NoDelay();
        _events.Blocking = false;
    }

    /// <inheritdoc/>
    public bool IsPeerDead => _peerDead != 0;

    /// <summary>Whether the device broke the protocol.</summary>
    public bool IsFaulted => _faulted != 0;

    /// <inheritdoc/>
    public RingCallStatus Call(ref RingMessage request, out RingMessage reply, long deadline)
    {
        reply = default;
        lock (_callGate)
        {
            if (_peerDead != 0)
            {
                return RingCallStatus.PeerDead;
            }

            if (_faulted != 0)
            {
                return RingCallStatus.ProtocolError;
            }

            request.Tag = ++_lastTag;
            Span<byte> frame = stackalloc byte[SocketFrame.Size];
            SocketFrame.Encode(frame, SocketFrameType.Request, in request);
            if (!SocketFrame.SendAll(_requests, frame))
            {
                return PeerGone();
            }

            if (request.Kind == MessageKind.PostedWrite)
            {
                return RingCallStatus.Completed;
            }

            RingCallStatus status = ReceiveFrame(frame, deadline);
            if (status != RingCallStatus.Completed)
            {
                return status;
            }

            if (!SocketFrame.TryDecode(frame, out SocketFrameType type, out reply) || type != SocketFrameType.Reply
                || !RingRequester.IsValidReply(in request, in reply))
            {
                reply = default;
                _faulted = 1;
                return RingCallStatus.ProtocolError;
            }

            return RingCallStatus.Completed;
        }
    }

    /// <summary>Posted writes go out one frame each (one message per access, like the peers); nothing to batch.</summary>
    public RingCallStatus Post(ref RingMessage write, long deadline)
    {
        if (write.Kind != MessageKind.PostedWrite)
        {
            throw new ArgumentException($"Post takes posted writes only, not {write.Kind}", nameof(write));
        }

        return Call(ref write, out _, deadline);
    }

    /// <summary>Nothing is held back: every frame was sent when it was posted.</summary>
    public void Flush()
    {
    }

    /// <inheritdoc/>
    public bool TryTakeEvent(out RingMessage message)
    {
        message = default;
        lock (_eventGate)
        {
            if (_faulted != 0)
            {
                return false;
            }

            while (_eventFilled < SocketFrame.Size)
            {
                int read = SocketFrame.Receive(_events, _eventFrame.AsSpan(_eventFilled), dontWait: true, out SocketError error);
                if (error == SocketError.WouldBlock || error == SocketError.TryAgain)
                {
                    return false;
                }

                if (error != SocketError.Success || read <= 0)
                {
                    PeerGone();
                    return false;
                }

                _eventFilled += read;
            }

            _eventFilled = 0;
            if (!SocketFrame.TryDecode(_eventFrame, out SocketFrameType type, out message) || type != SocketFrameType.Event
                || (byte)message.Kind < (byte)MessageKind.IrqLevel)
            {
                message = default;
                _faulted = 1;
                return false;
            }

            return true;
        }
    }

    /// <inheritdoc/>
    public void WaitForEvent(long timeoutMicroseconds)
    {
        if (_peerDead != 0)
        {
            return;
        }

        if (_faulted != 0)
        {
            RingRequester.FaultedPause(timeoutMicroseconds); // unread garbage would end every poll at once
            return;
        }

        try
        {
            _events.Poll(timeoutMicroseconds < 0 ? -1 : (int)Math.Min(timeoutMicroseconds, int.MaxValue), SelectMode.SelectRead);
        }
        catch (ObjectDisposedException)
        {
            // Disposed while waiting: nothing more will come.
        }
    }

    /// <inheritdoc/>
    public void MarkPeerDead()
    {
        _peerDead = 1;
        ShutdownQuietly(_requests);
        ShutdownQuietly(_events);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        MarkPeerDead();
        _requests.Dispose();
        _events.Dispose();
    }

    /// <summary>Receives exactly one frame into <paramref name="frame"/>, in slices, until <paramref name="deadline"/>.</summary>
    private RingCallStatus ReceiveFrame(Span<byte> frame, long deadline)
    {
        int filled = 0;
        while (filled < frame.Length)
        {
            int read = SocketFrame.Receive(_requests, frame[filled..], dontWait: false, out SocketError error);
            if (error == SocketError.Success && read > 0)
            {
                filled += read;
                continue;
            }

            if (error is not (SocketError.WouldBlock or SocketError.TimedOut or SocketError.TryAgain or SocketError.Interrupted))
            {
                return PeerGone(); // closed (read 0) or broken
            }

            if (_peerDead != 0)
            {
                return RingCallStatus.PeerDead;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                // A late reply would arrive out of step with the next request: the connection is unusable.
                _faulted = 1;
                return RingCallStatus.TimedOut;
            }
        }

        return RingCallStatus.Completed;
    }

    private RingCallStatus PeerGone()
    {
        _peerDead = 1;
        return RingCallStatus.PeerDead;
    }

    private static void ShutdownQuietly(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }
}

/// <summary>Socket helpers.</summary>
internal static class SocketOptions
{
    /// <summary>UNIX sockets have no Nagle; kept as a named no-op so the intent is visible if the transport goes TCP.</summary>
    public static void NoDelay(this Socket socket)
    {
        if (socket.AddressFamily != AddressFamily.Unix)
        {
            socket.NoDelay = true;
        }
    }
}
