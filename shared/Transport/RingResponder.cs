
namespace SplitEmu.Shared.Transport;

/// <summary>
/// The device side of a segment: takes requests, publishes replies and events. Requests and replies belong
/// to the one serving thread; events may come from any thread of the device process (a lock serializes them).
/// </summary>
public sealed unsafe class RingResponder : IRequestServer
{
    /// <summary>How long <see cref="PostEvent"/> waits for room before it drops an event.</summary>
    private static readonly TimeSpan s_eventRoomTimeout = TimeSpan.FromSeconds(1);

    private readonly RingConsumer _requests;
    private readonly RingProducer _replies;
    private readonly RingProducer _events;
    private readonly Doorbell _requestBell;
    private readonly Doorbell _replyBell;
    private readonly Doorbell _eventBell;
    private readonly WaitSettings _wait;
    private readonly Lock _eventGate = new();

    /// <summary>Whether the serving thread has applied <see cref="WaitSettings.PinnedCore"/> (serving thread only).</summary>
    private bool _pinChecked;

    /// <summary>Events posted since the last reply, by any thread (tells the CPU to take them before completing the access).</summary>
    private int _eventsSinceReply;

    /// <summary>Wraps the device-side halves of <paramref name="segment"/>.</summary>
    public RingResponder(RingSegment segment, WaitSettings wait)
    {
        _wait = wait;
        RingGeometry g = segment.Geometry;
        _requests = new RingConsumer(segment.RequestSlots, g.RequestSlots, (ulong*)segment.At(SegmentLayout.RequestConsumedOffset));
        _replies = new RingProducer(segment.ReplySlots, g.ReplySlots, (ulong*)segment.At(SegmentLayout.ReplyConsumedOffset));
        _events = new RingProducer(segment.EventSlots, g.EventSlots, (ulong*)segment.At(SegmentLayout.EventConsumedOffset));
        _requestBell = new Doorbell((int*)segment.At(SegmentLayout.RequestDoorbellOffset));
        _replyBell = new Doorbell((int*)segment.At(SegmentLayout.ReplyDoorbellOffset));
        _eventBell = new Doorbell((int*)segment.At(SegmentLayout.EventDoorbellOffset));
    }

    /// <summary>Events dropped because the CPU did not make room in time.</summary>
    public long EventsDropped { get; private set; }

    /// <summary>
    /// Waits for the next request, spinning as the wait policy says, then sleeping in slices;
    /// returns false when <paramref name="stop"/> becomes nonzero.
    /// </summary>
    public bool WaitForRequest(out RingMessage request, ref int stop)
    {
        if (!_pinChecked)
        {
            _pinChecked = true;
            if (_wait.PinnedCore is int core)
            {
                ThreadAffinity.PinCurrentThread(core);
                if (_wait.Policy == WaitPolicy.Handoff)
                {
                    ThreadAffinity.UseBatchScheduling();
                }
            }
        }

        int spins = _wait.SpinIterations;
        for (int i = 0; i < spins; i++)
        {
            if (_requests.TryConsumeUnsynchronized(out request))
            {
                return true;
            }

            if ((i & 3) == 3)
            {
                Thread.SpinWait(1); // a pause every few polls: a reply is seen sooner than with a pause per poll
            }
        }

        for (int i = _wait.Yields; i > 0; i--)
        {
            if (_requests.TryConsumeUnsynchronized(out request))
            {
                return true;
            }

            Thread.Yield();
        }

        while (Volatile.Read(ref stop) == 0)
        {
            if (_requests.TryConsumeUnsynchronized(out request))
            {
                return true;
            }

            _requestBell.Announce();
            if (!_requests.HasMessage && Volatile.Read(ref stop) == 0)
            {
                _requestBell.Sleep(_wait.SleepSliceMicroseconds);
            }

            _requestBell.Retract();
        }

        request = default;
        return false;
    }

    /// <summary>Whether a request is waiting in the ring (a forwarder batches what it sends on while more follow).</summary>
    public bool HasRequest => _requests.HasMessage;

    /// <summary>Never: a dead CPU process is seen through the control connection, not the ring.</summary>
    public bool IsClosed => false;

    /// <summary>Wakes <see cref="WaitForRequest"/> so it sees its stop flag.</summary>
    public void KickRequestWaiter() => _requestBell.Kick();

    /// <summary>Publishes the reply to the request just handled. Serving thread only.</summary>
    public void Reply(RingMessage reply)
    {
        if (Interlocked.Exchange(ref _eventsSinceReply, 0) != 0)
        {
            reply.Flags |= (ushort)ReplyFlags.EventsFirst;
        }

        // One request is in flight at a time, so the reply ring always has room; spin defensively anyway.
        while (!_replies.TryPublishUnsynchronized(in reply, out _))
        {
            Thread.Yield();
        }

        _replyBell.Ring();
    }

    /// <summary>Publishes an event from any thread. Returns false if it had to be dropped (event ring full).</summary>
    public bool PostEvent(in RingMessage message)
    {
        lock (_eventGate)
        {
            long deadline = Environment.TickCount64 + (long)s_eventRoomTimeout.TotalMilliseconds;
            while (!_events.TryPublishUnsynchronized(in message, out _))
            {
                _eventBell.Ring();
                if (Environment.TickCount64 > deadline)
                {
                    EventsDropped++;
                    return false;
                }

                Thread.Sleep(1);
            }

            // Any event, not only a handler's: one raised by a posted write or a timer (a DMA's code
            // invalidation, an interrupt) must also have taken effect when the next reply completes its access.
            Interlocked.Increment(ref _eventsSinceReply);
            _eventBell.Ring();
            return true;
        }
    }
}
