namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The levels of the machine's 16 ISA interrupt lines as devices drive them, kept for the monitor and tests;
/// the interrupt controller (<see cref="Platform.DualPic8259"/>) gets every change as it happens.
/// </summary>
public sealed class InterruptLines
{
    /// <summary>Number of lines.</summary>
    public const int Count = 16;

    private int _levels;

    /// <summary>Bit n set = line n asserted.</summary>
    public int Levels => Volatile.Read(ref _levels);

    /// <summary>Drives line <paramref name="line"/>; lines outside 0-15 are ignored (untrusted device input).</summary>
    public void SetLevel(int line, bool asserted)
    {
        if ((uint)line >= Count)
        {
            return;
        }

        if (asserted)
        {
            Interlocked.Or(ref _levels, 1 << line);
        }
        else
        {
            Interlocked.And(ref _levels, ~(1 << line));
        }
    }
}
