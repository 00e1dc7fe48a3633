using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>How full a pipe is, read at our end: to know that a writer on the other end is blocked.</summary>
internal static partial class PipeFill
{
    private const int FIONREAD = 0x541B, F_GETPIPE_SZ = 1032;

    /// <summary>
    /// Whether the pipe under <paramref name="stream"/> holds all it can, give or take a page (the kernel fills a
    /// pipe page by page, so a blocked writer may leave the last page part-empty).
    /// </summary>
    public static bool IsFull(Stream stream)
    {
        if (stream is not PipeStream pipe)
        {
            throw new InvalidOperationException($"not a pipe: {stream.GetType().Name}");
        }

        int fd = (int)pipe.SafePipeHandle.DangerousGetHandle();
        int capacity = Fcntl(fd, F_GETPIPE_SZ, 0);
        if (capacity < 0 || Ioctl(fd, FIONREAD, out int queued) < 0)
        {
            throw new IOException($"cannot read the pipe's fill: errno {Marshal.GetLastPInvokeError()}");
        }

        return queued >= capacity - Environment.SystemPageSize;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, int request, out int value);
}
