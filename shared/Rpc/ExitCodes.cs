namespace SplitEmu.Shared.Rpc;

/// <summary>
/// Process exit codes of splitemu. A guest ending through the debug-exit device gives
/// <c>(value &lt;&lt; 1) | 1</c>, always odd, like QEMU's isa-debug-exit; the codes of our own are even so
/// they never collide with a guest's.
/// </summary>
public static class ExitCodes
{
    /// <summary>Bad input: profile, image or command line.</summary>
    public const int BadInput = 2;

    /// <summary>The guest crashed: triple fault, or halted with interrupts disabled.</summary>
    public const int GuestCrashed = 4;

    /// <summary>The run's time limit passed.</summary>
    public const int Timeout = 6;

    /// <summary>A device failed beyond its restart policy, or an internal error.</summary>
    public const int Failure = 8;

    /// <summary>
    /// `splitemu monitor` only: the machine it was attached to ended on its own or by someone else (not by this
    /// monitor's <c>quit</c>); it printed how.
    /// </summary>
    public const int MonitoredMachineEnded = 10;

    /// <summary>Stopped by SIGINT/Ctrl-C (128 + 2, the shell convention).</summary>
    public const int Interrupted = 130;

    /// <summary>Exit code for a value written to the debug-exit device.</summary>
    public static int FromDebugExit(ulong value) => (int)(((value & 0x7F) << 1) | 1);
}
