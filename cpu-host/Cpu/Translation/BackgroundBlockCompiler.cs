using System.Collections.Concurrent;

namespace SplitEmu.CpuHost.Cpu.Translation;

/// <summary>
/// Compiles blocks off the vCPU thread: the runtime's JIT takes about a millisecond per block, which on a real
/// guest (tens of thousands of hot blocks) would otherwise stall the vCPU for seconds. The vCPU keeps interpreting
/// while its block is compiled and installs the result at its next slice. One worker thread serves every vCPU of
/// the process, below normal priority so device processes and the vCPUs come first on a small machine.
/// </summary>
internal static class BackgroundBlockCompiler
{
    private static readonly BlockingCollection<Action> s_work = new(new ConcurrentQueue<Action>());
    private static readonly Lazy<Thread> s_worker = new(() =>
    {
        var thread = new Thread(() =>
        {
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

    /// <summary>Runs <paramref name="job"/> on the worker thread, in order with the others.</summary>
    public static void Post(Action job)
    {
        _ = s_worker.Value;
        s_work.Add(job);
    }
}
