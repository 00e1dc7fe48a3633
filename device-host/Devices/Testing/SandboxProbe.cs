using System.Runtime.InteropServices;
using SplitEmu.Shared.Processes;

namespace SplitEmu.DeviceHost.Devices.Testing;

/// <summary>
/// What an exploited device process would try first, done for real from inside a device handler (the test
/// device runs one on command): signal another process, open its descriptors through /proc, read the host's
/// files, look around the file system, start a program, open a network socket, ptrace another process. The
/// sandbox tests check that each is refused, or that the process is killed for trying.
/// </summary>
public static partial class SandboxProbe
{
    /// <summary>The probes, by number.</summary>
    public enum Kind
    {
        /// <summary>kill(argument, SIGKILL).</summary>
        KillProcess,

        /// <summary>open("/proc/ARGUMENT/fd/0").</summary>
        OpenProcessDescriptor,

        /// <summary>open("/etc/passwd").</summary>
        OpenHostFile,

        /// <summary>Count the entries of "/".</summary>
        ListRoot,

        /// <summary>execve("/bin/true").</summary>
        Execute,

        /// <summary>socket(AF_INET, SOCK_STREAM).</summary>
        OpenNetworkSocket,

        /// <summary>ptrace(PTRACE_ATTACH, argument).</summary>
        TraceProcess,
    }

    /// <summary>What <see cref="Run"/> answers for a probe it refuses to run.</summary>
    public const ulong Refused = ulong.MaxValue;

    /// <summary>
    /// Runs <paramref name="kind"/>; returns 0 when it succeeded, else the errno that refused it (<see cref="Kind.ListRoot"/>:
    /// the number of entries). The probes that would harm something if they succeeded (signal, trace, execute, open a
    /// socket) run only in a locked-down device process, where they cannot: any guest can write the test device's
    /// register, and an inline test device runs in the CPU process. Elsewhere they answer <see cref="Refused"/>.
    /// </summary>
    public static ulong Run(Kind kind, ulong argument)
    {
        if (kind is Kind.KillProcess or Kind.TraceProcess or Kind.Execute or Kind.OpenNetworkSocket && !ProcessConfinement.IsConfined)
        {
            return Refused;
        }

        switch (kind)
        {
            case Kind.KillProcess:
                return Result(Kill((int)argument, 9));
            case Kind.OpenProcessDescriptor:
                return OpenAndClose($"/proc/{argument}/fd/0");
            case Kind.OpenHostFile:
                return OpenAndClose("/etc/passwd");
            case Kind.ListRoot:
                try
                {
                    return (ulong)Directory.EnumerateFileSystemEntries("/").Count();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    return 0;
                }

            case Kind.Execute:
                return Result(Execve("/bin/true", [null], [null]));
            case Kind.OpenNetworkSocket:
                int socket = Socket(2, 1, 0);
                if (socket >= 0)
                {
                    Close(socket);
                }

                return Result(socket);
            case Kind.TraceProcess:
                return Result((int)Ptrace(16, (int)argument, 0, 0));
            default:
                return Refused;
        }
    }

    private static ulong OpenAndClose(string path)
    {
        int fd = Open(path, 0);
        if (fd >= 0)
        {
            Close(fd);
        }

        return Result(fd);
    }

    private static ulong Result(int returned) => returned >= 0 ? 0 : (ulong)Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Execve(string path, string?[] arguments, string?[] environment);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "ptrace", SetLastError = true)]
    private static partial long Ptrace(int request, int pid, nint address, nint data);
}
