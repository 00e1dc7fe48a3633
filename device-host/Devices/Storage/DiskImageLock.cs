using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace SplitEmu.DeviceHost.Devices.Storage;

/// <summary>
/// An exclusive lock on a whole disk image, held as long as its descriptor is open: two machines (or two drives
/// of one) writing the same image would corrupt the file system on it without either noticing. It is an
/// open-file-description lock (<c>F_OFD_SETLK</c>), the kind QEMU locks its images with, so SplitEmu and QEMU
/// also refuse each other's images in use; the kernel drops it when the holding process dies, so a restarted
/// device process gets it back (after a short wait while its killed predecessor is still exiting).
/// </summary>
internal static unsafe partial class DiskImageLock
{
    private const int FcntlOfdSetLock = 37;
    private const short WriteLock = 1;
    private const short SeekSet = 0;
    private const int WouldBlock = 11, AccessDenied = 13;

    /// <summary>How long a held lock is waited for (a dead predecessor's goes with its process).</summary>
    private const int WaitMs = 2000;

    /// <summary>Takes the lock on <paramref name="image"/>; false if another holder keeps it for <see cref="WaitMs"/>.</summary>
    /// <exception cref="IOException">The file system cannot lock at all.</exception>
    public static bool TryTake(SafeFileHandle image)
    {
        long giveUpAt = Environment.TickCount64 + WaitMs;
        FileLock whole = new() { Type = WriteLock, Whence = SeekSet, Start = 0, Length = 0 }; // length 0: to the end, however long
        while (true)
        {
            if (Fcntl((int)image.DangerousGetHandle(), FcntlOfdSetLock, &whole) == 0)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno is not (WouldBlock or AccessDenied))
            {
                throw new IOException($"cannot lock the image (errno {errno})");
            }

            if (Environment.TickCount64 >= giveUpAt)
            {
                return false;
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>struct flock on x86-64 Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct FileLock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, FileLock* argument);
}
