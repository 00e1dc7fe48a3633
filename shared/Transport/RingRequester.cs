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

    /// <summary>1 once the device broke the protocol: the rings' state can no longer be trusted, every later call fails.</summary>
    private volatile int _faulted;

    /// <summary>Posted writes published since the doorbell last rang (under <see cref="_callGate"/>).</summary>
    private int _unrung;

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
    /// Posted writes published before <see cref="Post"/> rings the doorbell by itself (a non-posted request and
    /// <see cref="Flush"/> ring it too). 1 rings for every write. Default 16.
    /// </summary>
    public int PostBatch { get; set; } = DefaultPostBatch;

    /// <summary>Default of <see cref="PostBatch"/>.</summary>
    public const int DefaultPostBatch = 16;

    /// <summary>Whether the device broke the protocol (every call now returns <see cref="RingCallStatus.ProtocolError"/>).</summary>
    public bool IsFaulted => _faulted != 0;

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

            if (_faulted != 0)
            {
                return RingCallStatus.ProtocolError;
            }

            request.Tag = ++_lastTag;
            _unrung = 0; // PublishRequest rings: the device will see every posted write before this request
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

            return IsValidReply(in request, in reply) ? RingCallStatus.Completed : Fault();
        }
    }

    /// <summary>
    /// Publishes a posted write (<paramref name="write"/>'s kind must be <see cref="MessageKind.PostedWrite"/>;
    /// its tag is assigned here) without waiting for the device and, except every <see cref="PostBatch"/>-th
    /// write, without a system call. The device handles requests in ring order, so a later read completes
    /// only after this write was handled. When the ring is full the call waits (by the wait policy) until the
    /// device has drained it, at most until <paramref name="deadline"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="write"/> is not a posted write.</exception>
    public RingCallStatus Post(ref RingMessage write, long deadline)
    {
        if (write.Kind != MessageKind.PostedWrite)
        {
            throw new ArgumentException($"Post takes posted writes only, not {write.Kind}", nameof(write));
        }

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

            // Keep one slot free for the barrier that drains a full ring.
            if (_requests.FreeSlotsUnsynchronized(2, out bool corrupt) < 2)
            {
                if (corrupt)
                {
                    return Fault();
                }

                RingCallStatus drained = DrainUnsynchronized(deadline);
                if (drained != RingCallStatus.Completed)
                {
                    return drained;
                }
            }

            write.Tag = ++_lastTag;
            if (!_requests.TryPublishUnsynchronized(in write, out corrupt))
            {
                return corrupt ? Fault() : RingCallStatus.TimedOut;
            }

            if (++_unrung >= PostBatch)
            {
                _unrung = 0;
                _requestBell.Ring();
            }

            return RingCallStatus.Completed;
        }
    }

    /// <summary>Rings the doorbell for posted writes published since it last rang. Does not wait for them.</summary>
    public void Flush()
    {
        lock (_callGate)
        {
            if (_unrung != 0)
            {
                _unrung = 0;
                _requestBell.Ring();
            }
        }
    }

    /// <summary>A barrier round trip: returns once the device has handled every earlier request.</summary>
    private RingCallStatus DrainUnsynchronized(long deadline)
    {
        RingMessage barrier = new() { Kind = MessageKind.Barrier, Tag = ++_lastTag };
        _unrung = 0;
        RingCallStatus status = PublishRequest(in barrier, deadline);
        if (status == RingCallStatus.Completed)
        {
            status = WaitForReply(out RingMessage reply, deadline);
            if (status == RingCallStatus.Completed && !IsValidReply(in barrier, in reply))
            {
                status = Fault();
            }
        }

        return status;
    }

    /// <summary>Records that the device broke the protocol; later calls fail at once.</summary>
    private RingCallStatus Fault()
    {
        _faulted = 1;
        return RingCallStatus.ProtocolError;
    }

    /// <summary>Takes the next event if one is ready. Thread-safe.</summary>
    public bool TryTakeEvent(out RingMessage message)
    {
        lock (_eventGate)
        {
            if (_faulted != 0 || !_events.TryConsumeUnsynchronized(out message))
            {
                message = default;
                return false;
            }

            if ((byte)message.Kind < FirstEventKind)
            {
                // A request or reply kind in the event ring: garbage. Fault the device; apply nothing.
                _faulted = 1;
                message = default;
                return false;
            }

            return true;
        }
    }

    /// <summary>
    /// Event pump: sleeps until the event ring has a message, the peer dies, or
    /// <paramref name="timeoutMicroseconds"/> passes.
    /// </summary>
    public void WaitForEvent(long timeoutMicroseconds)
    {
        if (_peerDead != 0)
        {
            return;
        }

        if (_faulted != 0)
        {
            // The segment is garbage: a "ready" event would end every wait at once and spin the event pump.
            FaultedPause(timeoutMicroseconds);
            return;
        }

        if (_events.HasMessage)
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

    /// <summary>How long a faulted transport's event waiter sleeps at most per call.</summary>
    internal const int FaultedPauseLimitMilliseconds = 100;

    /// <summary>Sleeps like an idle event wait, without looking at anything the faulted peer wrote.</summary>
    internal static void FaultedPause(long timeoutMicroseconds) =>
        Thread.Sleep((int)Math.Clamp(timeoutMicroseconds < 0 ? FaultedPauseLimitMilliseconds : timeoutMicroseconds / 1000, 1, FaultedPauseLimitMilliseconds));

    /// <summary>Smallest kind number of an event (see <see cref="MessageKind"/>).</summary>
    private const byte FirstEventKind = (byte)MessageKind.IrqLevel;

    private RingCallStatus PublishRequest(in RingMessage request, long deadline)
    {
        int attempts = 0;
        while (!_requests.TryPublishUnsynchronized(in request, out bool corrupt))
        {
            if (corrupt)
            {
                return Fault();
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

            if ((i & 3) == 3)
            {
                Thread.SpinWait(1); // a pause every few polls: a reply is seen sooner than with a pause per poll
            }
        }

        for (int i = _wait.Yields; i > 0; i--)
        {
            if (_replies.TryConsumeUnsynchronized(out reply))
            {
                return RingCallStatus.Completed;
            }

            Thread.Yield();
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

    /// <summary>Whether <paramref name="reply"/> answers <paramref name="request"/> (same tag, matching kind, or Failed).</summary>
    internal static bool IsValidReply(in RingMessage request, in RingMessage reply)
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
            MessageKind.ControlDone => request.Kind is MessageKind.RegionsGone or MessageKind.RegionsBack or MessageKind.RestoreState or MessageKind.ResetDevice
                || (request.Kind == MessageKind.ReportLines && reply.Value <= uint.MaxValue),
            MessageKind.StateSaved => request.Kind == MessageKind.SaveState,
            MessageKind.InputTaken => request.Kind == MessageKind.Input && reply.Value <= request.AccessSize,
            MessageKind.Failed => true,
            _ => false,
        };
    }
}
