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
    private long _transitions;

    /// <summary>Bit n set = line n asserted.</summary>
    public int Levels => Volatile.Read(ref _levels);

    /// <summary>How often a line changed level so far (a rise or a fall; driving a line to the level it has is none).</summary>
    public long Transitions => Interlocked.Read(ref _transitions);

    /// <summary>Drives line <paramref name="line"/>; lines outside 0-15 are ignored (untrusted device input).</summary>
    public void SetLevel(int line, bool asserted)
    {
        if ((uint)line >= Count)
        {
            return;
        }

        int before = asserted ? Interlocked.Or(ref _levels, 1 << line) : Interlocked.And(ref _levels, ~(1 << line));
        if (((before >> line) & 1) != (asserted ? 1 : 0))
        {
            Interlocked.Increment(ref _transitions);
        }
    }
}
