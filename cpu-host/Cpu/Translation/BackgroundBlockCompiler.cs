using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace SplitEmu.CpuHost.Cpu.Translation;

/// <summary>
/// Compiles blocks off the vCPU thread: the runtime's JIT takes about a millisecond per block, which on a real
/// guest (tens of thousands of hot blocks) would otherwise stall the vCPU for seconds. The vCPU keeps interpreting
/// while its block is compiled and installs the result at its next slice. One worker thread serves every vCPU of
/// the process at the lowest scheduling priority (nice 19), so device processes and the vCPUs come first on a small
/// machine: a device process that waits behind the compiler answers late, and a Linux guest that times its PIT reads
/// then marks its TSC unstable.
/// </summary>
internal static partial class BackgroundBlockCompiler
{
    private const int PriorityProcess = 0; // PRIO_PROCESS: with who = 0, the calling thread on Linux
    private const int LowestPriority = 19;

    private static readonly BlockingCollection<Action> s_work = new(new ConcurrentQueue<Action>());
    private static readonly Lazy<Thread> s_worker = new(() =>
    {
        var thread = new Thread(() =>
        {
            // .NET's ThreadPriority does not reach the Linux scheduler; the thread's nice value does. Best effort:
            // where it is refused (another OS), the compiler runs at normal priority.
            if (OperatingSystem.IsLinux())
                _ = SetPriority(PriorityProcess, 0, LowestPriority);
            foreach (Action job in s_work.GetConsumingEnumerable())
                job();
        })
        {
            IsBackground = true,
            Name = "block-compiler",
            Priority = ThreadPriority.BelowNormal,
        };
        thread.Start();
        return thread;
    });

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    /// <summary>Runs <paramref name="job"/> on the worker thread, in order with the others.</summary>
    public static void Post(Action job)
    {
        _ = s_worker.Value;
        s_work.Add(job);
    }
}
