using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Transport;

/// <summary>
/// Pins threads to cores (Linux sched_setaffinity). On a small machine the two halves of a round trip are
/// fastest either on one core with <see cref="WaitPolicy.Handoff"/> (a futex
/// hand-off, no inter-processor interrupt) or on two dedicated cores with
/// <see cref="WaitPolicy.Spin"/>; left to the scheduler, the sides often land on
/// different cores and each wake-up costs an interrupt to a halted vCPU (see docs/ring-protocol.md).
/// Pinning a single thread (not the process) leaves the runtime's other threads free to run anywhere.
/// </summary>
public static unsafe partial class ThreadAffinity
{
    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nint cpuSetSize, ulong* mask);

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SchedSetScheduler(int pid, int policy, int* param);

    /// <summary>Linux SCHED_BATCH: a normal time-sharing policy whose wake-ups do not preempt the running thread.</summary>
    private const int SchedBatch = 3;

    [LibraryImport("libc", EntryPoint = "sched_getcpu")]
    private static partial int SchedGetCpu();

    /// <summary>Pins the calling thread to core <paramref name="core"/>; false if the system refused.</summary>
    public static bool PinCurrentThread(int core)
    {
        if (core < 0 || core >= 64)
        {
            return false;
        }

        ulong mask = 1UL << core;
        return SchedSetAffinity(0, sizeof(ulong), &mask) == 0;
    }

    /// <summary>Lets the calling thread run on every core again.</summary>
    public static bool UnpinCurrentThread()
    {
        int cores = Math.Min(Environment.ProcessorCount, 64);
        ulong mask = cores == 64 ? ulong.MaxValue : (1UL << cores) - 1;
        return SchedSetAffinity(0, sizeof(ulong), &mask) == 0;
    }

    /// <summary>
    /// Puts the calling thread under SCHED_BATCH (no privileges needed): when the peer on the same core wakes
    /// it, it waits for the peer to yield or sleep instead of preempting it. For a handoff serving thread that
    /// turns a doorbell per posted-write batch into one switch per drained ring; a read loses nothing, because
    /// the waiting peer yields at once. False if the system refused.
    /// </summary>
    public static bool UseBatchScheduling()
    {
        int priority = 0;
        return SchedSetScheduler(0, SchedBatch, &priority) == 0;
    }

    /// <summary>The core the calling thread runs on right now (-1 if unknown).</summary>
    public static int CurrentCore => SchedGetCpu();
}
