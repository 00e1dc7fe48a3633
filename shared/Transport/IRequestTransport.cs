namespace SplitEmu.Shared.Transport;

/// <summary>
/// The CPU side of the data plane to one device process: requests out, replies and events in. The
/// shared-memory ring (<see cref="RingRequester"/>) is the product; a socket transport (one message per access,
/// as QEMU's multi-process mode and vfio-user do) is the baseline and later the base for remote devices.
/// Implementations never throw for anything the device does: they return a <see cref="RingCallStatus"/>.
/// </summary>
public interface IRequestTransport
{
    /// <summary>Whether the peer has been declared dead.</summary>
    bool IsPeerDead { get; }

    /// <summary>
    /// Sends <paramref name="request"/> (its <see cref="RingMessage.Tag"/> is assigned here) and, unless it is a
    /// <see cref="MessageKind.PostedWrite"/>, waits for the checked reply until <paramref name="deadline"/>
    /// (a Stopwatch timestamp). Thread-safe: calls are serialized.
    /// </summary>
    RingCallStatus Call(ref RingMessage request, out RingMessage reply, long deadline);

    /// <summary>
    /// Publishes a <see cref="MessageKind.PostedWrite"/> without waiting for the device; the doorbell may ring
    /// only for a batch of them, on the next non-posted request, or on <see cref="Flush"/>. Ordering: a later
    /// <see cref="Call"/> completes only after the device handled this write. Thread-safe.
    /// </summary>
    RingCallStatus Post(ref RingMessage write, long deadline) => Call(ref write, out _, deadline);

    /// <summary>Makes the device see every posted write published so far (rings the doorbell); does not wait.</summary>
    void Flush()
    {
    }

    /// <summary>Takes the next event if one is ready. Thread-safe.</summary>
    bool TryTakeEvent(out RingMessage message);

    /// <summary>Sleeps until an event may be ready, the peer dies, or the timeout passes.</summary>
    void WaitForEvent(long timeoutMicroseconds);

    /// <summary>Declares the peer dead: waiters wake and return <see cref="RingCallStatus.PeerDead"/>.</summary>
    void MarkPeerDead();
}
