namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The levels of the machine's 16 ISA interrupt lines as devices drive them. The interrupt controller
/// (8259A, in this process) samples them; until it exists, the levels are kept for the monitor and tests.
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
