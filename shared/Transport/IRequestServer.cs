namespace SplitEmu.Shared.Transport;

/// <summary>The device side of the data plane: requests in, replies and events out.</summary>
public interface IRequestServer
{
    /// <summary>
    /// Waits for the next request; false once <paramref name="stop"/> is nonzero, or when the transport has
    /// closed for good (<see cref="IsClosed"/>: no request will ever come, so the caller must stop waiting).
    /// </summary>
    bool WaitForRequest(out RingMessage request, ref int stop);

    /// <summary>
    /// True once no request can arrive again: a ring never closes; a socket does when the CPU side closes it, sends
    /// a bad frame, or <see cref="KickRequestWaiter"/> shuts it down for a stop.
    /// </summary>
    bool IsClosed { get; }

    /// <summary>Wakes <see cref="WaitForRequest"/> so it sees its stop flag.</summary>
    void KickRequestWaiter();

    /// <summary>Answers the request just handled (serving thread only).</summary>
    void Reply(RingMessage reply);

    /// <summary>Publishes an event from any thread; false if it had to be dropped.</summary>
    bool PostEvent(in RingMessage message);
}
