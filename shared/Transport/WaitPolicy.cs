namespace SplitEmu.Shared.Transport;

/// <summary>How a waiter for a ring waits.</summary>
public enum WaitPolicy
{
    /// <summary>Sleep on the futex at once: for sides sharing a core; the default on small machines.</summary>
    Handoff,

    /// <summary>Spin without sleeping: for dedicated cores only.</summary>
    Spin,

    /// <summary>Spin up to a budget, then sleep.</summary>
    Hybrid,
}
