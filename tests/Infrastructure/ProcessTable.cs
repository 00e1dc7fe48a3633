using System.Runtime.InteropServices;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>Looks at processes through /proc, and sends signals, for tests of process life cycles.</summary>
public static partial class ProcessTable
{
    /// <summary>SIGTERM.</summary>
    public const int SigTerm = 15;

    /// <summary>SIGINT.</summary>
    public const int SigInt = 2;

    /// <summary>SIGKILL.</summary>
    public const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>.</summary>
    public static void Signal(int pid, int signal) => Kill(pid, signal);

    /// <summary>Whether <paramref name="pid"/> is alive (exists and is not a zombie).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return stat[close + 2] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Ids of the live children of <paramref name="parent"/> whose command line contains <paramref name="text"/>.</summary>
    public static IReadOnlyList<int> Children(int parent, string text)
    {
        List<int> found = [];
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1]) == parent && IsAlive(pid)
                    && File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(text, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // The process ended while we looked.
            }
        }

        return found;
    }

    /// <summary>
    /// Whether a thread of <paramref name="pid"/> named <paramref name="threadName"/> sleeps in a kernel function
    /// whose name contains <paramref name="kernelFunction"/> (its /proc wait channel), e.g. blocked in a pipe write.
    /// </summary>
    public static bool ThreadWaitsIn(int pid, string threadName, string kernelFunction)
    {
        try
        {
            foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                if (ReadOrEmpty(Path.Combine(task, "comm")).Trim() == threadName
                    && ReadOrEmpty(Path.Combine(task, "wchan")).Contains(kernelFunction, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            // the process is gone
        }

        return false;
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return ""; // the thread ended meanwhile
        }
    }

    /// <summary>Shared-memory files that belong to the launcher <paramref name="launcherPid"/>.</summary>
    public static IReadOnlyList<string> SharedMemoryFilesOf(int launcherPid) =>
        Directory.EnumerateFiles("/dev/shm", $"splitemu-{launcherPid}-*").ToArray();

    /// <summary>Waits until <paramref name="condition"/> holds, polling, at most <paramref name="timeout"/>.</summary>
    public static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            Thread.Sleep(20);
        }

        return true;
    }
}
