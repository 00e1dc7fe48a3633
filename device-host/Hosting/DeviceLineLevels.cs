namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// The interrupt lines one device holds asserted, as it last drove them through its context. They travel in its
/// snapshot and are reported to the CPU process after a restart (<see cref="Shared.Transport.MessageKind.ReportLines"/>),
/// so a line the device still holds stays asserted across its process's crash, without a new edge, and one it let go
/// meanwhile goes low. Written by the device's own thread (accesses, timers), read by the serving thread between
/// requests.
/// </summary>
public sealed class DeviceLineLevels
{
    private int _asserted;

    /// <summary>Bit n set = line n asserted (lines 0-31; a device granted others is refused them by the CPU process anyway).</summary>
    public uint Asserted
    {
        get => (uint)Volatile.Read(ref _asserted);
        set => Volatile.Write(ref _asserted, (int)value);
    }

    /// <summary>Notes that the device drove <paramref name="line"/> to <paramref name="asserted"/>.</summary>
    public void Set(int line, bool asserted)
    {
        if ((uint)line >= 32)
        {
            return;
        }

        if (asserted)
        {
            Interlocked.Or(ref _asserted, 1 << line);
        }
        else
        {
            Interlocked.And(ref _asserted, ~(1 << line));
        }
    }
}
