using System.Diagnostics;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// The CPU side of a device process's segment: sends requests, waits for replies, takes events.
/// Calls are serialized by a lock (one request in flight per device process); the device side is a single
/// thread anyway. Everything read back from the segment is checked: a device that breaks the protocol gets
/// <see cref="RingCallStatus.ProtocolError"/>, never an exception or a hang in the CPU process.
/// </summary>
public sealed unsafe class RingRequester : IRequestTransport
{
    private readonly RingSegment _segment;
    private readonly RingProducer _requests;
    private readonly RingConsumer _replies;
    private readonly RingConsumer _events;
    private readonly Doorbell _requestBell;
    private readonly Doorbell _replyBell;
    private readonly Doorbell _eventBell;
    private readonly WaitSettings _wait;

    /// <summary>Serializes request/reply round trips.</summary>
    private readonly Lock _callGate = new();

    /// <summary>Serializes event consumption (the vCPU on EventsFirst replies, and the event pump).</summary>
    private readonly Lock _eventGate = new();

    /// <summary>Tag of the last request sent.</summary>
    private ulong _lastTag;

    /// <summary>1 once the peer is known dead; set by <see cref="MarkPeerDead"/>, read by waiters.</summary>
    private volatile int _peerDead;

    /// <summary>Wraps the CPU-side halves of <paramref name="segment"/>.</summary>
    public RingRequester(RingSegment segment, WaitSettings wait)
    {
        _segment = segment;
        _wait = wait;
        RingGeometry g = segment.Geometry;
        _requests = new RingProducer(segment.RequestSlots, g.RequestSlots, (ulong*)segment.At(SegmentLayout.RequestConsumedOffset));
        _replies = new RingConsumer(segment.ReplySlots, g.ReplySlots, (ulong*)segment.At(SegmentLayout.ReplyConsumedOffset));
        _events = new RingConsumer(segment.EventSlots, g.EventSlots, (ulong*)segment.At(SegmentLayout.EventConsumedOffset));
        _requestBell = new Doorbell((int*)segment.At(SegmentLayout.RequestDoorbellOffset));
        _replyBell = new Doorbell((int*)segment.At(SegmentLayout.ReplyDoorbellOffset));
        _eventBell = new Doorbell((int*)segment.At(SegmentLayout.EventDoorbellOffset));
    }

    /// <summary>Whether the peer has been declared dead.</summary>
    public bool IsPeerDead => _peerDead != 0;

    /// <summary>Requests published so far.</summary>
    public ulong RequestsSent => _requests.Published;

    /// <summary>
    /// Declares the device process dead (its exit was seen, or it was killed after a deadline): every waiter
    /// wakes and returns <see cref="RingCallStatus.PeerDead"/>; later calls return it at once.
    /// </summary>
    public void MarkPeerDead()
    {
        _peerDead = 1;
        _replyBell.Kick();
        _eventBell.Kick();
    }

    /// <summary>
    /// Sends <paramref name="request"/> and, unless it is a posted write, waits for its reply until
    /// <paramref name="deadline"/> (a <see cref="Stopwatch"/> timestamp). The reply is checked: same tag, the
    /// kind that answers the request, <see cref="MessageKind.Failed"/> allowed.
    /// </summary>
    public RingCallStatus Call(ref RingMessage request, out RingMessage reply, long deadline)
    {
        reply = default;
        lock (_callGate)
        {
            if (_peerDead != 0)
            {
                return RingCallStatus.PeerDead;
            }

            request.Tag = ++_lastTag;
            RingCallStatus status = PublishRequest(in request, deadline);
            if (status != RingCallStatus.Completed || request.Kind == MessageKind.PostedWrite)
            {
                return status;
            }

            status = WaitForReply(out reply, deadline);
            if (status != RingCallStatus.Completed)
            {
                return status;
            }

            return IsValidReply(in request, in reply) ? RingCallStatus.Completed : RingCallStatus.ProtocolError;
        }
    }

    /// <summary>Takes the next event if one is ready. Thread-safe.</summary>
    public bool TryTakeEvent(out RingMessage message)
    {
        lock (_eventGate)
        {
            return _events.TryConsumeUnsynchronized(out message);
        }
    }

    /// <summary>
    /// Event pump: sleeps until the event ring has a message, the peer dies, or
    /// <paramref name="timeoutMicroseconds"/> passes.
    /// </summary>
    public void WaitForEvent(long timeoutMicroseconds)
    {
        if (_events.HasMessage || _peerDead != 0)
        {
            return;
        }

        _eventBell.Announce();
        if (!_events.HasMessage && _peerDead == 0)
        {
            _eventBell.Sleep(timeoutMicroseconds);
        }

        _eventBell.Retract();
    }

    private RingCallStatus PublishRequest(in RingMessage request, long deadline)
    {
        int attempts = 0;
        while (!_requests.TryPublishUnsynchronized(in request, out bool corrupt))
        {
            if (corrupt)
            {
                return RingCallStatus.ProtocolError;
            }

            // Full: only posted writes can fill it. Let the device run (it may share our core).
            _requestBell.Ring();
            if (_peerDead != 0)
            {
                return RingCallStatus.PeerDead;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                return RingCallStatus.TimedOut;
            }

            if (++attempts < 64)
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(0);
            }
        }

        _requestBell.Ring();
        return RingCallStatus.Completed;
    }

    private RingCallStatus WaitForReply(out RingMessage reply, long deadline)
    {
        int spins = _wait.SpinIterations;
        for (int i = 0; i < spins; i++)
        {
            if (_replies.TryConsumeUnsynchronized(out reply))
            {
                return RingCallStatus.Completed;
            }

            if ((i & 1023) == 1023 && _peerDead != 0)
            {
                return RingCallStatus.PeerDead;
            }

            Thread.SpinWait(1);
        }

        while (true)
        {
            if (_replies.TryConsumeUnsynchronized(out reply))
            {
                return RingCallStatus.Completed;
            }

            _replyBell.Announce();
            if (_replies.HasMessage)
            {
                _replyBell.Retract();
                continue;
            }

            if (_peerDead != 0)
            {
                _replyBell.Retract();
                return RingCallStatus.PeerDead;
            }

            long remaining = deadline - Stopwatch.GetTimestamp();
            if (remaining <= 0)
            {
                _replyBell.Retract();
                return RingCallStatus.TimedOut;
            }

            long remainingMicroseconds = remaining * 1_000_000 / Stopwatch.Frequency + 1;
            _replyBell.Sleep(_wait.SleepSliceMicroseconds < 0 ? remainingMicroseconds : Math.Min(remainingMicroseconds, _wait.SleepSliceMicroseconds));
            _replyBell.Retract();
        }
    }

    private static bool IsValidReply(in RingMessage request, in RingMessage reply)
    {
        if (reply.Tag != request.Tag)
        {
            return false;
        }

        return reply.Kind switch
        {
            MessageKind.ReadDone => request.Kind == MessageKind.Read,
            MessageKind.WriteDone => request.Kind == MessageKind.Write,
            MessageKind.BarrierDone => request.Kind == MessageKind.Barrier,
            MessageKind.ControlDone => request.Kind is MessageKind.RegionsGone or MessageKind.RegionsBack,
            MessageKind.Failed => true,
            _ => false,
        };
    }
}
