namespace SplitEmu.Shared.Profiles;

/// <summary>A run of I/O ports.</summary>
/// <param name="Start">The first port.</param>
/// <param name="Count">How many ports, at least 1.</param>
public readonly record struct PortRange(ushort Start, int Count)
{
    /// <summary>The last port of the range.</summary>
    public int End => Start + Count - 1;
}
