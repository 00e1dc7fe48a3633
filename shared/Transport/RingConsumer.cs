namespace SplitEmu.Shared.Transport;

/// <summary>
/// The consuming half of a single-producer single-consumer ring. One thread at a time. A message is ready when
/// its slot's sequence equals the consumer's position plus one; anything else (older, newer, garbage) is
/// "not ready", so a scribbling producer can delay its own messages but cannot make the consumer read outside
/// the ring. Message contents from an untrusted producer are checked by the caller.
/// </summary>
public sealed unsafe class RingConsumer
{
    private readonly RingSlot* _slots;
    private readonly ulong* _consumedPosition;
    private readonly ulong _mask;

    /// <summary>Position of the next message to consume (private to the consumer).</summary>
    private ulong _tail;

    /// <summary>Wraps <paramref name="slotCount"/> slots at <paramref name="slots"/> and this side's position word.</summary>
    public RingConsumer(RingSlot* slots, int slotCount, ulong* consumedPosition)
    {
        _slots = slots;
        _consumedPosition = consumedPosition;
        _mask = (ulong)slotCount - 1;
    }

    /// <summary>Messages consumed so far.</summary>
    public ulong Consumed => _tail;

    /// <summary>Whether the next message is ready (no side effect).</summary>
    public bool HasMessage
    {
        get
        {
            // Pairs with the producer's release store of Sequence.
            return Volatile.Read(ref _slots[_tail & _mask].Sequence) == _tail + 1;
        }
    }

    /// <summary>Takes the next message if it is ready.</summary>
    public bool TryConsumeUnsynchronized(out RingMessage message)
    {
        RingSlot* slot = &_slots[_tail & _mask];
        // Acquire: pairs with the producer's Volatile.Write of Sequence in RingProducer.TryPublishUnsynchronized.
        if (Volatile.Read(ref slot->Sequence) != _tail + 1)
        {
            message = default;
            return false;
        }

        message = slot->Message;
        _tail++;
        // Pairs with the producer's Volatile.Read of the position when its ring looks full.
        Volatile.Write(ref *_consumedPosition, _tail);
        return true;
    }
}
