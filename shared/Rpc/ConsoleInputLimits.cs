namespace SplitEmu.Shared.Rpc;

/// <summary>Bounds of console input on its way from the launcher to the console device (docs/console.md).</summary>
public static class ConsoleInputLimits
{
    /// <summary>Most bytes one <see cref="ICpuHostControl.ConsoleInputAsync"/> call may carry.</summary>
    public const int MaxChunkBytes = 4096;

    /// <summary>
    /// Bytes the CPU process holds for a console device that has no room yet (a paste the guest reads slowly);
    /// a call that does not fit waits for room, which is how the launcher's reading of standard input slows down.
    /// </summary>
    public const int QueueBytes = 64 * 1024;
}
