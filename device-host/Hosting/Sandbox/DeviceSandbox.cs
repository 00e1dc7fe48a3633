using System.Runtime.InteropServices;
using SplitEmu.Shared.Processes;

namespace SplitEmu.DeviceHost.Hosting.Sandbox;

/// <summary>
/// The inside half of the device sandbox (docs/processes.md, "The sandbox"). The launcher starts a sandboxed
/// device process in new user, mount, network, IPC, UTS and cgroup namespaces (<c>unshare</c>); once the process has
/// been handed its devices — ring and guest RAM mapped, disk images opened, sockets connected — and before it
/// serves the first access from the guest, <see cref="LockDown"/> takes away everything else: the file system
/// (an empty read-only root), core dumps and descriptors beyond a small limit, new privileges, and every
/// system call outside a measured allow-list (<see cref="SeccompFilter"/>).
/// </summary>
/// <remarks>
/// It happens at attach, not at start, because a spare does not know its devices (and their files) until then;
/// nothing the guest controls reaches the process before it. A .NET process is multi-threaded from its first
/// instruction, which rules out creating namespaces from inside (unshare(CLONE_NEWUSER) needs a single thread);
/// pivot_root, mount, setrlimit and seccomp with TSYNC work for every thread at once.
/// </remarks>
public static partial class DeviceSandbox
{
    /// <summary>The command-line flag the launcher passes to a device process it started sandboxed.</summary>
    public const string Flag = "--sandboxed";

    /// <summary>Where the new root is built before it becomes "/" (exists on every system; hidden by our tmpfs).</summary>
    private const string Staging = "/tmp";

    /// <summary>Where the old root is parked while it is detached (inside the new root).</summary>
    private const string OldRoot = "/.old-root";

    /// <summary>Descriptors a locked-down process may hold: its sockets, ring, RAM, images and the runtime's own.</summary>
    public const ulong MaxOpenFiles = 256;

    private const ulong MsRdonly = 1;
    private const ulong MsNosuid = 2;
    private const ulong MsNodev = 4;
    private const ulong MsNoexec = 8;
    private const ulong MsRemount = 32;
    private const ulong MsBind = 4096;
    private const ulong MsRec = 16384;
    private const int MntDetach = 2;
    private const int RlimitCore = 4;
    private const int RlimitNofile = 7;
    private const int RlimitMemlock = 8;
    private const int RlimitMsgqueue = 12;

    /// <summary>
    /// Replaces the file system with an empty read-only root (plus <paramref name="keepReadable"/> folders, read-only,
    /// at their own paths: the JIT host's runtime and assemblies, which it loads lazily), bounds resources, and
    /// installs the seccomp filter. Irreversible.
    /// </summary>
    /// <exception cref="InvalidOperationException">A step was refused: the process must not serve unconfined.</exception>
    public static void LockDown(IReadOnlyList<string> keepReadable)
    {
        // The kept folders are opened before the staging tmpfs goes over /tmp and bound through their descriptors:
        // a folder under /tmp (a checkout or a test's copy there) is hidden by that tmpfs by path, not by descriptor.
        int[] kept = [.. keepReadable.Select(folder => OpenPath(folder))];
        try
        {
            Check(Mount("none", Staging, "tmpfs", MsNosuid | MsNodev | MsNoexec, "size=64k,nr_inodes=64,mode=0755"), "mount a tmpfs for the new root");
            for (int i = 0; i < kept.Length; i++)
            {
                string folder = keepReadable[i];
                string target = Staging + Path.GetFullPath(folder).TrimEnd('/');
                Directory.CreateDirectory(target);
                Check(Mount($"/proc/self/fd/{kept[i]}", target, null, MsBind | MsRec, null), $"bind {folder}");
                Check(Mount(null, target, null, MsRemount | MsBind | MsRdonly | MsNosuid | MsNodev, null), $"make {folder} read-only");
            }
        }
        finally
        {
            foreach (int descriptor in kept)
            {
                Close(descriptor);
            }
        }

        Directory.CreateDirectory(Staging + OldRoot);
        Check(PivotRoot(Staging, Staging + OldRoot), "pivot_root");
        Check(ChangeDirectory("/"), "chdir /");
        Check(Unmount(OldRoot, MntDetach), "detach the old root");
        Directory.Delete(OldRoot);
        Check(Mount(null, "/", null, MsRemount | MsRdonly | MsNosuid | MsNodev | MsNoexec, null), "make the root read-only");

        SetLimit(RlimitCore, 0);
        SetLimit(RlimitNofile, MaxOpenFiles);
        SetLimit(RlimitMemlock, 0);
        SetLimit(RlimitMsgqueue, 0);
        ProcessDumpability.Forbid();
        SeccompFilter.Install(Environment.ProcessId);
        ProcessConfinement.MarkConfined(); // the test device's harmful probes run only now
    }

    /// <summary>A descriptor that names <paramref name="folder"/> without opening it for reading (O_PATH).</summary>
    private static int OpenPath(string folder)
    {
        const int OPath = 0x200000, ODirectory = 0x10000, OCloexec = 0x80000;
        int descriptor = Open(folder, OPath | ODirectory | OCloexec);
        if (descriptor < 0)
        {
            throw new InvalidOperationException($"sandbox: cannot open {folder}: errno {Marshal.GetLastPInvokeError()}");
        }

        return descriptor;
    }

    private static void SetLimit(int resource, ulong limit)
    {
        ResourceLimit value = new() { Current = limit, Maximum = limit };
        Check(SetResourceLimit(resource, ref value), $"setrlimit({resource}, {limit})");
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"sandbox: cannot {what}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Mount(string? source, string target, string? type, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Unmount(string target, int flags);

    [LibraryImport("libc", EntryPoint = "chdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChangeDirectory(string path);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetResourceLimit(int resource, ref ResourceLimit limit);

    /// <summary>glibc has no wrapper for pivot_root: the raw system call (155 on x86-64).</summary>
    private static int PivotRoot(string newRoot, string putOld) => (int)SysCall2(155, newRoot, putOld);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long SysCall2(long number, string first, string second);
}
