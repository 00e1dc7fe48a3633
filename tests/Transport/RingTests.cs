using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Transport;

/// <summary>The slot rings: order, wrap-around, full rings, and checks of what the peer wrote.</summary>
public sealed unsafe class RingTests
{
    /// <summary>Four slots: every few messages wrap the ring.</summary>
    private static readonly RingGeometry s_tiny = new(4, 4, 4);

    [Fact]
    public void Messages_ArriveInOrder_AcrossManyWrapArounds()
    {
        const int Count = 200_000; // 50,000 trips around a 4-slot ring
        using TestSegment segment = new(s_tiny);
        RingProducer producer = RequestProducer(segment.CpuSide);
        RingConsumer consumer = RequestConsumer(segment.DeviceSide);
        ulong[] received = new ulong[Count];

        Thread consume = new(() =>
        {
            for (int i = 0; i < Count; i++)
            {
                RingMessage message;
                SpinWait spin = default;
                while (!consumer.TryConsumeUnsynchronized(out message))
                {
                    spin.SpinOnce();
                }

                received[i] = message.Value;
            }
        }) { IsBackground = true };
        consume.Start();
        for (ulong i = 0; i < Count; i++)
        {
            RingMessage message = new() { Kind = MessageKind.PostedWrite, Value = i };
            SpinWait spin = default;
            bool corrupt;
            while (!producer.TryPublishUnsynchronized(in message, out corrupt))
            {
                Assert.False(corrupt);
                spin.SpinOnce();
            }
        }

        Assert.True(consume.Join(TestDeadlines.Seconds(60)), "consumer did not finish");
        for (int i = 0; i < Count; i++)
        {
            Assert.Equal((ulong)i, received[i]);
        }
    }

    [Fact]
    public void FullRing_RefusesToPublish_UntilTheConsumerTakesOne()
    {
        using TestSegment segment = new(s_tiny);
        RingProducer producer = RequestProducer(segment.CpuSide);
        RingConsumer consumer = RequestConsumer(segment.DeviceSide);
        RingMessage message = new() { Kind = MessageKind.PostedWrite };
        for (int i = 0; i < s_tiny.RequestSlots; i++)
        {
            Assert.True(producer.TryPublishUnsynchronized(in message, out _));
        }

        bool publishedWhenFull = producer.TryPublishUnsynchronized(in message, out bool corruptWhenFull);
        consumer.TryConsumeUnsynchronized(out _);
        bool publishedAfterTake = producer.TryPublishUnsynchronized(in message, out _);

        Assert.False(publishedWhenFull);
        Assert.False(corruptWhenFull);
        Assert.True(publishedAfterTake);
    }

    [Fact]
    public void ConsumerPositionAheadOfWhatWasPublished_IsReportedAsCorrupt()
    {
        using TestSegment segment = new(s_tiny);
        RingProducer producer = RequestProducer(segment.CpuSide);
        RingMessage message = new() { Kind = MessageKind.PostedWrite };
        for (int i = 0; i < s_tiny.RequestSlots; i++)
        {
            producer.TryPublishUnsynchronized(in message, out _);
        }

        // A hostile device claims to have consumed more than was ever published.
        *(ulong*)segment.DeviceSide.At(SegmentLayout.RequestConsumedOffset) = 1_000_000;
        bool published = producer.TryPublishUnsynchronized(in message, out bool corrupt);

        Assert.False(published);
        Assert.True(corrupt);
    }

    [Fact]
    public void SlotWithAWrongSequence_IsNotConsumed()
    {
        using TestSegment segment = new(s_tiny);
        RingConsumer consumer = RequestConsumer(segment.DeviceSide);
        RingSlot* slots = segment.CpuSide.RequestSlots;

        slots[0].Sequence = 7; // garbage: the next message must carry sequence 1
        bool consumed = consumer.TryConsumeUnsynchronized(out _);

        Assert.False(consumed);
    }

    [Fact]
    public void Open_RefusesASegmentWithAnotherLayoutVersion()
    {
        using RingSegment created = RingSegment.Create($"splitemu-test-{Guid.NewGuid():N}", s_tiny, epoch: 1);

        try
        {
            *(uint*)created.At(SegmentLayout.VersionOffset) = SegmentLayout.Version + 1;

            InvalidDataException error = Assert.Throws<InvalidDataException>(() => RingSegment.Open(created.Memory.DuplicateDescriptor(), TestDeadlines.Seconds(1)));

            Assert.Contains("layout version", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            created.Memory.Unlink();
        }
    }

    private static RingProducer RequestProducer(RingSegment s) =>
        new(s.RequestSlots, s.Geometry.RequestSlots, (ulong*)s.At(SegmentLayout.RequestConsumedOffset));

    private static RingConsumer RequestConsumer(RingSegment s) =>
        new(s.RequestSlots, s.Geometry.RequestSlots, (ulong*)s.At(SegmentLayout.RequestConsumedOffset));
}
