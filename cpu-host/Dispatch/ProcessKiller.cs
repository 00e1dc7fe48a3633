using System.Diagnostics;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>Stops a device process for certain: SIGKILL, then wait until the kernel reports it dead.</summary>
internal static partial class ProcessKiller
{
    /// <summary>Sends SIGKILL to <paramref name="pid"/> without waiting (crash injection).</summary>
    public static void Kill(int pid)
    {
        if (pid > 0 && pid != Environment.ProcessId)
        {
            _ = SendSignal(pid, 9);
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    private static partial int SendSignal(int pid, int signal);

    /// <summary>Kills <paramref name="pid"/> and waits (bounded) until it no longer runs; true if it is dead.</summary>
    public static bool KillAndWait(int pid, TimeSpan timeout)
    {
        if (pid <= 0 || pid == Environment.ProcessId)
        {
            return false;
        }

        try
        {
            using Process process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (ArgumentException)
        {
            return true; // already gone
        }
        catch (InvalidOperationException)
        {
            return true;
        }

        Stopwatch waited = Stopwatch.StartNew();
        while (waited.Elapsed < timeout)
        {
            if (!IsRunning(pid))
            {
                return true;
            }

            Thread.Sleep(1);
        }

        return false;
    }

    /// <summary>Whether <paramref name="pid"/> exists and is not a zombie (/proc/PID/stat state field).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
