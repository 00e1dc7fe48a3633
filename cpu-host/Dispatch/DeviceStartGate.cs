using SplitEmu.Shared.Timing;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// The device processes of the machine's start that have not attached yet. The guest starts as soon as the CPU process
/// is configured; an access that finds no region while some are still attaching waits here (<see cref="MachineBus"/>),
/// because a device declares its regions only when it attaches, so the address may be one of theirs. So the guest's
/// first instructions wait only when they reach for a device that is not there yet, as an access to a restarting
/// device waits for its successor, with the machine's clock stopped meanwhile. Opened when the last has attached, or
/// when the machine stops (then the access goes on as unassigned and the vCPU sees the stop).
/// </summary>
public sealed class DeviceStartGate(int processes, MachineClockSource clock)
{
    private readonly ManualResetEventSlim _open = new(processes == 0);
    private int _attaching = processes;

    /// <summary>A device process of the start attached.</summary>
    public void Attached()
    {
        if (Interlocked.Decrement(ref _attaching) == 0)
        {
            _open.Set();
        }
    }

    /// <summary>The machine stops: nothing waits for the rest.</summary>
    public void Open() => _open.Set();

    /// <summary>Waits until open; true when it had to wait (the caller then looks its address up again).</summary>
    public bool Wait()
    {
        if (_open.IsSet)
        {
            return false;
        }

        using MachineClockSource.StopScope stopped = clock.Stop(); // the machine stands still: so does its clock
        _open.Wait();
        return true;
    }
}
