
namespace SplitEmu.Shared.Transport;

/// <summary>How a ring waiter spends its time before it sleeps on the futex.</summary>
public readonly record struct WaitSettings(WaitPolicy Policy, int SpinBudget)
{
    /// <summary>Spin iterations of the <see cref="WaitPolicy.Spin"/> policy before it too sleeps: spinning forever
    /// would starve the peer on a shared core.</summary>
    public const int SpinPolicyBudget = 4_000_000;

    /// <summary>Default sleep slice: a sleeping waiter re-checks peer death and deadlines this often.</summary>
    public const long DefaultSleepSliceMicroseconds = 100_000;

    /// <summary>
    /// Longest single futex sleep, in microseconds; negative means no limit (only a wake-up ends the sleep,
    /// which lets tests prove that no wake-up is ever lost).
    /// </summary>
    public long SleepSliceMicroseconds { get; init; } = DefaultSleepSliceMicroseconds;

    /// <summary>
    /// Core the serving (device) thread pins itself to when it starts waiting, or null to leave placement to
    /// the scheduler. Put it on the vCPU thread's core for <see cref="WaitPolicy.Handoff"/>, on the other core
    /// for <see cref="WaitPolicy.Spin"/> (see <see cref="ThreadAffinity"/>).
    /// </summary>
    public int? PinnedCore { get; init; }

    /// <summary>
    /// Times to give the core away (sched_yield) after spinning and before announcing sleep. On one core this
    /// hands the core straight to the peer, which then answers without a futex wake (it sees no announced
    /// sleeper); with nothing else runnable the yield returns at once. Handoff and hybrid yield once; spin
    /// never (it owns its core).
    /// </summary>
    public int YieldIterations { get; init; } = 1;

    /// <summary>Yields actually made: <see cref="YieldIterations"/>, or 0 for <see cref="WaitPolicy.Spin"/>.</summary>
    public int Yields => Policy == WaitPolicy.Spin ? 0 : YieldIterations;

    /// <summary>Iterations to spin before announcing sleep.</summary>
    public int SpinIterations => Policy switch
    {
        WaitPolicy.Handoff => 0,
        WaitPolicy.Spin => SpinPolicyBudget,
        _ => SpinBudget,
    };

    /// <summary>The handoff policy.</summary>
    public static WaitSettings Handoff { get; } = new(WaitPolicy.Handoff, 0);
}
