namespace SplitEmu.Shared.Transport;

/// <summary>How a request over a ring ended.</summary>
public enum RingCallStatus
{
    /// <summary>The device answered (or accepted a posted write).</summary>
    Completed,

    /// <summary>The device process is dead (or was declared dead while we waited).</summary>
    PeerDead,

    /// <summary>The device did not answer before the deadline; it must be stopped before anything is released.</summary>
    TimedOut,

    /// <summary>The device wrote something impossible into the segment; it is faulted.</summary>
    ProtocolError,
}
