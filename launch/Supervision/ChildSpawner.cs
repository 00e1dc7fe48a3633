using System.Collections.Concurrent;
using System.Diagnostics;
using SplitEmu.Shared.Processes;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// Starts every host process from one thread that lives as long as this process. A child asks the kernel to kill
/// it when its parent dies (<see cref="LauncherTie"/>), and the kernel takes "parent" to be the thread that forked
/// it: started from a thread-pool thread that later retires, a child would be killed for nothing.
/// </summary>
internal static class ChildSpawner
{
    private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Started)> s_requests = [];
    private static readonly Thread s_thread = StartThread();

    /// <summary>Starts <paramref name="info"/> on the spawner thread, telling the child who its launcher is.</summary>
    public static Task<Process> StartAsync(ProcessStartInfo info)
    {
        info.Environment[LauncherTie.LauncherPidVariable] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        TaskCompletionSource<Process> started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        s_requests.Add((info, started));
        return started.Task;
    }

    private static Thread StartThread()
    {
        Thread thread = new(Serve) { IsBackground = true, Name = "splitemu child spawner" };
        thread.Start();
        return thread;
    }

    private static void Serve()
    {
        foreach ((ProcessStartInfo info, TaskCompletionSource<Process> started) in s_requests.GetConsumingEnumerable())
        {
            try
            {
                started.SetResult(Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}"));
            }
            catch (Exception ex)
            {
                started.SetException(ex);
            }
        }
    }
}
