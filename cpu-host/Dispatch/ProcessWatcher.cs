using System.Runtime.InteropServices;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// Notices a device process's death from the CPU process itself, within a millisecond: a pidfd (Linux 5.3+)
/// becomes readable when the process exits, also for a process that is not our child. The launcher's own
/// notice still arrives too; whichever is first wins.
/// </summary>
internal sealed partial class ProcessWatcher : IDisposable
{
    private const long SysPidfdOpen = 434;
    private const short PollIn = 0x001;

    private readonly int _pidfd;
    private readonly Thread? _thread;
    private volatile bool _disposed;

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial int PidfdOpen(long number, int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, ulong count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>Calls <paramref name="onExit"/> (once, on a watcher thread) when <paramref name="pid"/> exits.</summary>
    public ProcessWatcher(int pid, Action onExit)
    {
        _pidfd = PidfdOpen(SysPidfdOpen, pid, 0);
        if (_pidfd < 0)
        {
            // No pidfd (old kernel) or already gone: the launcher's notice is the fallback.
            if (!Directory.Exists($"/proc/{pid}"))
            {
                onExit();
            }

            return;
        }

        _thread = new Thread(() => Watch(onExit)) { Name = $"watch-{pid}", IsBackground = true };
        _thread.Start();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        _thread?.Join();
        if (_pidfd >= 0)
        {
            Close(_pidfd);
        }
    }

    private unsafe void Watch(Action onExit)
    {
        PollFd fd = new() { Fd = _pidfd, Events = PollIn };
        while (!_disposed)
        {
            // Slices so that Dispose is noticed; an exit wakes the poll at once.
            if (Poll(&fd, 1, 100) > 0 && (fd.Revents & PollIn) != 0)
            {
                onExit();
                return;
            }
        }
    }
}
