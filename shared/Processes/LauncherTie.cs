using System.Runtime.InteropServices;

namespace SplitEmu.Shared.Processes;

/// <summary>
/// Ties a host process's life to its launcher's: the kernel kills it (SIGKILL, which also ends a stopped
/// process) the moment the launcher dies, however it dies. The launcher names itself in
/// <see cref="LauncherPidVariable"/> and starts its children from one thread that lives as long as it does
/// (the kernel sends the signal when the thread that forked the child ends, not only the process).
/// </summary>
public static partial class LauncherTie
{
    /// <summary>Environment variable holding the launcher's process id; absent when a process was started by hand.</summary>
    public const string LauncherPidVariable = "SPLITEMU_LAUNCHER_PID";

    private const int PrSetPdeathsig = 1;
    private const int Sigkill = 9;

    /// <summary>
    /// Asks for SIGKILL when the launcher dies. Returns false when it is already gone (this process was
    /// re-parented before it could ask): the caller should exit at once.
    /// </summary>
    public static bool DieWithLauncher()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(LauncherPidVariable), out int launcher))
        {
            return true; // not started by a launcher: nothing to tie to
        }

        if (Prctl(PrSetPdeathsig, Sigkill, 0, 0, 0) != 0)
        {
            return true; // not Linux, or refused: the closed control connection still ends this process
        }

        // The launcher may have died between fork and prctl: then the parent is no longer the launcher.
        return GetParentPid() == launcher;
    }

    [LibraryImport("libc", EntryPoint = "prctl")]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentPid();
}
