using System.Runtime.InteropServices;

namespace SplitEmu.Launch.Supervision;

/// <summary>
/// A write-only stream straight onto a file descriptor with write(2): no position of its own (a file opened for
/// appending, or shared with stderr as in <c>&gt; log 2&gt;&amp;1</c>, gets each write at its end, as the shell
/// means), no lock shared with System.Console (a write blocked on a reader who stopped reading blocks only its
/// caller), partial writes continued, EINTR retried, and EAGAIN on a descriptor someone made non-blocking waited
/// out with poll(2). A reader that went away (EPIPE) is an <see cref="IOException"/>.
/// </summary>
public sealed partial class FileDescriptorStream(int fd) : Stream
{
    private const int EINTR = 4, EAGAIN = 11, POLLOUT = 4;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint written = WriteNative(fd, start + done, (nuint)(buffer.Length - done));
                if (written >= 0)
                {
                    done += (int)written;
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == EAGAIN)
                {
                    PollFd wanted = new() { Fd = fd, Events = POLLOUT };
                    _ = Poll(&wanted, 1, -1);
                }
                else if (errno != EINTR)
                {
                    throw new IOException($"write to file descriptor {fd} failed: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
                }
            }
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteNative(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);
}
