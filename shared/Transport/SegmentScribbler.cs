namespace SplitEmu.Shared.Transport;

/// <summary>Faults a device process can be told to inject into its own data plane (tests only).</summary>
public enum TransportFault
{
    /// <summary>Behave.</summary>
    None,

    /// <summary>Instead of the first reply, write garbage over the segment (see <see cref="SegmentScribbler"/>).</summary>
    ScribbleSegment,
}

/// <summary>
/// Test-only fault injection: a device side that, instead of answering its first request, scribbles over the
/// whole segment the way a compromised or broken device process could: a garbage header, impossible consumed
/// positions, random slot contents, and, in the slots the CPU reads next, garbage that looks published (the
/// right sequence number). The CPU side must contain it: report a protocol error, never throw or hang.
/// </summary>
public sealed unsafe class SegmentScribbler : IRequestServer
{
    private readonly RingSegment _segment;
    private readonly IRequestServer _inner;
    private int _scribbled;

    /// <summary>Wraps <paramref name="inner"/>, the honest server of <paramref name="segment"/>.</summary>
    public SegmentScribbler(RingSegment segment, IRequestServer inner)
    {
        _segment = segment;
        _inner = inner;
    }

    /// <inheritdoc/>
    public bool WaitForRequest(out RingMessage request, ref int stop) => _inner.WaitForRequest(out request, ref stop);

    /// <inheritdoc/>
    public bool IsClosed => _inner.IsClosed;

    /// <inheritdoc/>
    public void KickRequestWaiter() => _inner.KickRequestWaiter();

    /// <inheritdoc/>
    public bool PostEvent(in RingMessage message) => _inner.PostEvent(in message);

    /// <inheritdoc/>
    public void Reply(RingMessage reply)
    {
        if (Interlocked.Exchange(ref _scribbled, 1) == 0)
        {
            Scribble();
        }
        else
        {
            _inner.Reply(reply);
        }
    }

    private void Scribble()
    {
        RingGeometry g = _segment.Geometry;
        Random random = new(0x5C81BB1E);
        // Read where the CPU will look next before everything is overwritten.
        ulong replyNext = Volatile.Read(ref *(ulong*)_segment.At(SegmentLayout.ReplyConsumedOffset));
        ulong eventNext = Volatile.Read(ref *(ulong*)_segment.At(SegmentLayout.EventConsumedOffset));

        // SAFETY: the segment is mapped for SegmentSize(geometry) bytes, checked when it was opened.
        Span<byte> all = new(_segment.Memory.Base, (int)SegmentLayout.SegmentSize(g));
        random.NextBytes(all);

        // Doorbell words stay sane enough for futex calls; everything else is garbage.
        *(ulong*)_segment.At(SegmentLayout.RequestConsumedOffset) = ulong.MaxValue - 7;
        PublishGarbage(_segment.ReplySlots, g.ReplySlots, replyNext, (MessageKind)0xEE, random);
        PublishGarbage(_segment.EventSlots, g.EventSlots, eventNext, MessageKind.Read, random);
        Interlocked.MemoryBarrier();
        Futex.Wake((int*)_segment.At(SegmentLayout.ReplyDoorbellOffset));
        Futex.Wake((int*)_segment.At(SegmentLayout.EventDoorbellOffset));
    }

    private static void PublishGarbage(RingSlot* slots, int count, ulong position, MessageKind kind, Random random)
    {
        RingSlot* slot = &slots[position & (ulong)(count - 1)];
        slot->Message.Kind = kind;
        slot->Message.Tag = (ulong)random.NextInt64();
        Volatile.Write(ref slot->Sequence, position + 1);
    }
}
