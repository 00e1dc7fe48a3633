namespace SplitEmu.Shared.Transport;

/// <summary>
/// The machine time a guest access was made at, carried in every access request (<see cref="MessageKind.Read"/>,
/// <see cref="MessageKind.Write"/>, <see cref="MessageKind.PostedWrite"/>, <see cref="MessageKind.Input"/>) in
/// <see cref="RingMessage.Argument0"/>. A device may handle a posted write well after the guest went on, and a
/// successor replays its predecessor's journal long after the accesses were made: a model that computes from this
/// time (an 8254's count, the PM timer) answers in both cases what it would have answered at once. Kept in the message, so the journal replays it unchanged.
/// </summary>
public static class AccessTime
{
    /// <summary>Stamps <paramref name="request"/> with <paramref name="machineNanoseconds"/>, the machine clock's reading when the guest made it.</summary>
    public static void Stamp(ref RingMessage request, long machineNanoseconds) =>
        request.Argument0 = (ulong)Math.Max(0, machineNanoseconds);

    /// <summary>The machine time <paramref name="request"/> was made at.</summary>
    public static long Of(in RingMessage request) => (long)Math.Min(request.Argument0, long.MaxValue);
}
