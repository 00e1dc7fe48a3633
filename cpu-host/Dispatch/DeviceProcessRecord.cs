using System.Diagnostics;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Timing;

namespace SplitEmu.CpuHost.Dispatch;

/// <summary>
/// One device process across its incarnations: which channel is current, the journals and crash injectors of
/// its devices (they outlive any one process), the crash history, and the gate where accesses that found the
/// device dead wait for its successor when the device's profile says <c>stall</c>.
/// </summary>
public sealed class DeviceProcessRecord
{
    private readonly object _gate = new();
    private DeviceChannel? _current;
    private bool _faulted;
    private bool _shutDown;

    /// <summary>The record of the process <paramref name="processKey"/> serving <paramref name="devices"/> (ring order) on the machine clock <paramref name="clock"/>.</summary>
    public DeviceProcessRecord(string processKey, IReadOnlyList<DeviceConfig> devices, MachineClockSource clock)
    {
        ProcessKey = processKey;
        Clock = clock;
        Devices = devices;
        Records = [.. devices.Select((d, index) => new IsolatedDeviceRecord(d, (ushort)index))];
        DeviceIds = devices.Select(d => d.Id).ToArray();
    }

    /// <summary>The machine clock: published into each incarnation's segment, stopped while an access waits for a successor.</summary>
    public MachineClockSource Clock { get; }

    /// <summary>Device ids in ring order.</summary>
    public IReadOnlyList<string> DeviceIds { get; }

    /// <summary>The process's name.</summary>
    public string ProcessKey { get; }

    /// <summary>Its devices, in ring order.</summary>
    public IReadOnlyList<DeviceConfig> Devices { get; }

    /// <summary>Its devices' records, by ring index: journal, crash injector, counters, access deadline.</summary>
    internal IsolatedDeviceRecord[] Records { get; }

    /// <summary>The incarnation being set up (created, not yet bound).</summary>
    public DeviceChannel? Pending { get; set; }

    /// <summary>The incarnation serving now (possibly dead, until its successor is bound).</summary>
    public DeviceChannel? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>Whether restarting was given up: stalled and later accesses end as bus errors.</summary>
    public bool IsFaulted
    {
        get
        {
            lock (_gate)
            {
                return _faulted;
            }
        }
    }

    /// <summary>Crashes and their recoveries, oldest first (guarded by itself: recorded by the restarting thread, read by reports).</summary>
    private readonly List<CrashRecord> _crashes = [];

    /// <summary>A copy of the crashes and their recoveries so far, oldest first.</summary>
    public CrashRecord[] Crashes()
    {
        lock (_crashes)
        {
            return [.. _crashes];
        }
    }

    /// <summary>Records a crash once its successor serves (or restarting was given up).</summary>
    public void RecordCrash(CrashRecord record)
    {
        lock (_crashes)
        {
            _crashes.Add(record);
        }
    }

    /// <summary>Makes <paramref name="channel"/> current and wakes every access waiting for it.</summary>
    public void Activate(DeviceChannel channel)
    {
        lock (_gate)
        {
            _current = channel;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Blocks until a successor of <paramref name="dead"/> is current; returns it, or null when restarting was
    /// given up or the machine is stopping (the access then ends as a bus error).
    /// </summary>
    public DeviceChannel? WaitForSuccessor(DeviceChannel dead, int device)
    {
        using MachineClockSource.StopScope stopped = Clock.Stop(); // the machine stands still: so does its clock
        return WaitForCurrentAfter(dead, device, endsWithMachine: true, deadline: long.MaxValue);
    }

    /// <summary>
    /// Blocks until a successor of <paramref name="dead"/> is current, or none will come: restarting was given up,
    /// device <paramref name="device"/> (-1: every device) was unplugged, the machine is stopping when
    /// <paramref name="endsWithMachine"/>, or <paramref name="deadline"/> (<see cref="Environment.TickCount64"/>) passed.
    /// </summary>
    private DeviceChannel? WaitForCurrentAfter(DeviceChannel dead, int device, bool endsWithMachine, long deadline)
    {
        lock (_gate)
        {
            while (_current == dead && !NoSuccessorComing(device, endsWithMachine))
            {
                if (deadline == long.MaxValue)
                {
                    Monitor.Wait(_gate);
                    continue;
                }

                long remaining = deadline - Environment.TickCount64;
                if (remaining <= 0)
                {
                    return null;
                }

                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(remaining));
            }

            return NoSuccessorComing(device, endsWithMachine) || _current == dead ? null : _current;
        }
    }

    /// <summary>Under the gate: whether waiting for a successor is over without one (see <see cref="WaitForCurrentAfter"/>).</summary>
    private bool NoSuccessorComing(int device, bool endsWithMachine) =>
        _faulted || (endsWithMachine && _shutDown) || (device >= 0 ? Records[device].Abandoned : Array.TrueForAll(Records, r => r.Abandoned));

    /// <summary>Device <paramref name="device"/> is being unplugged (or plugged again): waiters for its restart give up.</summary>
    public void SetAbandoned(int device, bool abandoned)
    {
        lock (_gate)
        {
            Records[device].Abandoned = abandoned;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Restarting was given up: release every waiter with a bus error; later accesses get one at once.</summary>
    public void GiveUp()
    {
        lock (_gate)
        {
            _faulted = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The machine stops: nobody waits for a restart any more.</summary>
    public void ShutDown()
    {
        lock (_gate)
        {
            _shutDown = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// The guest has stopped: the writes it posted reach the device before the machine ends (a debug console's last
    /// bytes included), as writes the guest waited for would have. A dead incarnation's journal holds them, so when
    /// <paramref name="waitForSuccessor"/> (the guest ended the machine, not the user) and one of the process's
    /// devices stalls while down, this waits for its successor to replay them, until restarting is given up, every
    /// device was unplugged, or <paramref name="deadline"/> (<see cref="Environment.TickCount64"/>; one deadline for
    /// the whole machine). Runs on the vCPU thread after its last instruction.
    /// </summary>
    public void DrainPosted(bool waitForSuccessor, long deadline)
    {
        bool stalls = Devices.Any(d => d.WhileDown == DownBehavior.Stall);
        DeviceChannel? channel = Current;
        while (channel is { HasUnconfirmedPosts: true } && !channel.DrainPosted() && channel.IsDead && waitForSuccessor && stalls)
        {
            channel = WaitForSuccessorUntil(channel, deadline);
        }
    }

    /// <summary>
    /// Like <see cref="WaitForSuccessor"/>, but also while the machine is stopping (the guest ended it; the launcher
    /// still restarts devices until the CPU process returns), and only until <paramref name="deadline"/>
    /// (<see cref="Environment.TickCount64"/>).
    /// </summary>
    private DeviceChannel? WaitForSuccessorUntil(DeviceChannel dead, long deadline) =>
        WaitForCurrentAfter(dead, device: -1, endsWithMachine: false, deadline);

    /// <summary>What device <paramref name="device"/> answers while its process is down.</summary>
    public DownBehavior WhileDown(int device) => Devices[device].WhileDown;
}
