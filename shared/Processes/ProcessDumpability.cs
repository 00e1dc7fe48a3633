using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Processes;

/// <summary>
/// Makes this process non-dumpable (PR_SET_DUMPABLE 0): its /proc/PID files become root's, so another process of
/// the same user (an exploited device process) cannot open its descriptors, read or write its memory or ptrace it.
/// The CPU process does this first: it holds guest RAM, the rings and the translator's code.
/// </summary>
public static partial class ProcessDumpability
{
    private const int PrSetDumpable = 4;
    private const int PrGetDumpable = 3;

    /// <summary>Forbids dumps, /proc access by others and ptrace for this process.</summary>
    /// <exception cref="InvalidOperationException">The kernel refused (not Linux).</exception>
    public static void Forbid()
    {
        if (Prctl(PrSetDumpable, 0, 0, 0, 0) != 0)
        {
            throw new InvalidOperationException($"prctl(PR_SET_DUMPABLE, 0) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Whether this process is dumpable (tests).</summary>
    public static bool IsDumpable => Prctl(PrGetDumpable, 0, 0, 0, 0) == 1;

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);
}
