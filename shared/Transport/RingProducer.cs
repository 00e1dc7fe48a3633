namespace SplitEmu.Shared.Transport;

/// <summary>
/// The producing half of a single-producer single-consumer ring of <see cref="RingSlot"/>s. One thread at a
/// time (callers serialize; methods are "Unsynchronized" in that sense). The consumer's position is cached and
/// re-read only when the ring looks full.
/// </summary>
public sealed unsafe class RingProducer
{
    private readonly RingSlot* _slots;
    private readonly ulong* _consumedPosition;
    private readonly ulong _mask;
    private readonly ulong _capacity;

    /// <summary>Position of the next message to publish (private to the producer).</summary>
    private ulong _head;

    /// <summary>Last consumer position read from the shared word.</summary>
    private ulong _cachedConsumed;

    /// <summary>Wraps <paramref name="slotCount"/> slots at <paramref name="slots"/> and the consumer's position word.</summary>
    public RingProducer(RingSlot* slots, int slotCount, ulong* consumedPosition)
    {
        _slots = slots;
        _consumedPosition = consumedPosition;
        _capacity = (ulong)slotCount;
        _mask = _capacity - 1;
    }

    /// <summary>Messages published so far.</summary>
    public ulong Published => _head;

    /// <summary>
    /// Free slots, re-reading the consumer's position only when the cached one says fewer than
    /// <paramref name="wanted"/> are free. <paramref name="corrupt"/> as in <see cref="TryPublishUnsynchronized"/>.
    /// </summary>
    public ulong FreeSlotsUnsynchronized(ulong wanted, out bool corrupt)
    {
        corrupt = false;
        ulong free = _capacity - (_head - _cachedConsumed);
        if (free >= wanted)
        {
            return free;
        }

        // Pairs with the consumer's Volatile.Write of its position in RingConsumer.TryConsumeUnsynchronized.
        ulong consumed = Volatile.Read(ref *_consumedPosition);
        if (consumed < _cachedConsumed || consumed > _head)
        {
            corrupt = true;
            return 0;
        }

        _cachedConsumed = consumed;
        return _capacity - (_head - consumed);
    }

    /// <summary>
    /// Publishes <paramref name="message"/> unless the ring is full. <paramref name="corrupt"/> is set when the
    /// consumer's shared position is impossible (behind what it already reported, or ahead of what was
    /// published): the peer scribbled on the segment.
    /// </summary>
    public bool TryPublishUnsynchronized(in RingMessage message, out bool corrupt)
    {
        corrupt = false;
        if (_head - _cachedConsumed >= _capacity)
        {
            // Pairs with the consumer's Volatile.Write of its position in RingConsumer.TryConsumeUnsynchronized.
            ulong consumed = Volatile.Read(ref *_consumedPosition);
            if (consumed < _cachedConsumed || consumed > _head)
            {
                corrupt = true;
                return false;
            }

            _cachedConsumed = consumed;
            if (_head - consumed >= _capacity)
            {
                return false;
            }
        }

        RingSlot* slot = &_slots[_head & _mask];
        slot->Message = message;
        // Release: the message is visible before its sequence. Pairs with the consumer's Volatile.Read of Sequence.
        Volatile.Write(ref slot->Sequence, _head + 1);
        _head++;
        return true;
    }
}
