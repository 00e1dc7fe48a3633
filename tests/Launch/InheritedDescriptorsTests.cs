using System.Runtime.InteropServices;
using SplitEmu.Launch.Host;

namespace SplitEmu.Tests.Launch;

/// <summary>What splitemu inherited is not passed on to its children: a directory descriptor would read past a sandbox's empty root.</summary>
public sealed partial class InheritedDescriptorsTests
{
    private const int OpenDirectory = 0x10000, GetDescriptorFlags = 1, CloseOnExec = 1;

    [Fact]
    public void AnInheritedDirectoryDescriptor_IsMarkedCloseOnExec_AndStaysUsable()
    {
        int fd = Open("/", OpenDirectory); // as a shell's `exec 7< /` leaves it: no close-on-exec
        Assert.True(fd > 2, $"open / failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            Assert.Equal(0, Fcntl(fd, GetDescriptorFlags, 0) & CloseOnExec);

            InheritedDescriptors.KeepFromChildren();

            Assert.Equal(CloseOnExec, Fcntl(fd, GetDescriptorFlags, 0) & CloseOnExec);
        }
        finally
        {
            Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
