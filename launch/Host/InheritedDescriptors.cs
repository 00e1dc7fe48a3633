using System.Globalization;
using System.Runtime.InteropServices;

namespace SplitEmu.Launch.Host;

/// <summary>
/// Descriptors splitemu inherited from whatever started it (a shell's open directory, make's jobserver pipes, a
/// terminal) are not for its children: a device process that received a directory descriptor could read
/// through it past its sandbox's empty root. .NET passes every descriptor without close-on-exec to a child.
/// </summary>
internal static partial class InheritedDescriptors
{
    private const int GetDescriptorFlags = 1, SetDescriptorFlags = 2, CloseOnExec = 1;

    /// <summary>Marks every inherited descriptor above standard error close-on-exec (this process keeps using them).</summary>
    public static void KeepFromChildren()
    {
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries("/proc/self/fd").ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return; // no /proc: nothing to find them by (children get only what .NET passes, 0-2, there)
        }

        foreach (string entry in entries)
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int fd) && fd > 2)
            {
                int flags = Fcntl(fd, GetDescriptorFlags, 0);
                if (flags >= 0 && (flags & CloseOnExec) == 0)
                {
                    Fcntl(fd, SetDescriptorFlags, flags | CloseOnExec);
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int command, int argument);
}
