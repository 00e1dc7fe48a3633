using System.Diagnostics;
using SplitEmu.CpuHost.Cpu;

namespace SplitEmu.Tests.Cpu.Infrastructure;

/// <summary>Runs several CPUs of one machine at once, a thread each, as the machine's vCPU threads do.</summary>
public static class ProcessorThreads
{
    /// <summary>Instructions per Run call: each thread looks at the deadline between calls.</summary>
    private const long Slice = 100_000;

    /// <summary>
    /// Runs every CPU on its own thread until it halts, or until <paramref name="deadline"/> has passed (a safety net
    /// for a guest that never halts, never a measurement). Every thread is joined before this returns. Returns the CPUs
    /// that did not halt (empty when all did); an exception on a CPU thread is rethrown here.
    /// </summary>
    public static IReadOnlyList<int> RunUntilHalted(IReadOnlyList<X86Cpu> cpus, TimeSpan deadline)
    {
        long stopAt = Stopwatch.GetTimestamp() + (long)(deadline.TotalSeconds * Stopwatch.Frequency);
        var halted = new bool[cpus.Count];
        var failures = new Exception?[cpus.Count];
        var threads = new Thread[cpus.Count];
        try
        {
            for (int i = 0; i < cpus.Count; i++)
            {
                int index = i;
                threads[i] = new Thread(() =>
                {
                    try
                    {
                        while (Stopwatch.GetTimestamp() < stopAt)
                        {
                            CpuRunResult result = cpus[index].Run(Slice);
                            if (result.Reason is CpuStopReason.Halted or CpuStopReason.Shutdown)
                            {
                                halted[index] = result.Reason == CpuStopReason.Halted;
                                return;
                            }
                        }
                    }
                    catch (Exception ex)
                    {
                        failures[index] = ex;
                    }
                })
                { IsBackground = true, Name = $"test vCPU {i}" };
                threads[i].Start();
            }
        }
        finally
        {
            // Every thread leaves by the deadline at the latest (a Run call is bounded), so plain joins cannot hang.
            foreach (Thread? thread in threads)
                thread?.Join();
        }
        foreach (Exception? failure in failures)
        {
            if (failure is not null)
                throw new AggregateException("a vCPU thread failed", failure);
        }
        return Enumerable.Range(0, cpus.Count).Where(i => !halted[i]).ToArray();
    }
}
