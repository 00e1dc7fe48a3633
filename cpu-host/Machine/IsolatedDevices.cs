using System.Diagnostics;
using SplitEmu.CpuHost.Dispatch;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// The machine's device processes across their incarnations: a <see cref="DeviceProcessRecord"/> per process, the life
/// cycle of each incarnation (segment created, bound, replaced after a crash with its devices restored, freed once
/// its old regions drained, given up), the crash records, and what their authorised events do to the machine.
/// <see cref="VirtualMachine"/> composes it; this is the one place an isolated device's life is handled.
/// </summary>
internal sealed class IsolatedDevices : IDeviceEventSink, IDisposable
{
    /// <summary>How long the machine's end waits, in all, for successors to replay posted writes their predecessors died with.</summary>
    private const int DrainSuccessorTimeoutMs = 5_000;

    private readonly VirtualMachine _machine;
    private readonly string _shmPrefix;
    private readonly Dictionary<string, DeviceProcessRecord> _processes = new(StringComparer.Ordinal);

    /// <summary>Every incarnation not yet freed (a dead one lives until its old regions drained).</summary>
    private readonly List<DeviceChannel> _channels = [];
    private readonly Lock _channelsGate = new();

    /// <summary>The device processes of the start still attaching; the guest's accesses that find no region wait for them.</summary>
    private readonly DeviceStartGate _startGate;

    /// <summary>The device processes of <paramref name="devices"/> (those not inline), grouped by process, on <paramref name="machine"/>.</summary>
    public IsolatedDevices(VirtualMachine machine, string shmPrefix, MachineClockSource clock, IEnumerable<DeviceConfig> devices)
    {
        _machine = machine;
        _shmPrefix = shmPrefix;
        foreach (IGrouping<string, DeviceConfig> process in devices
            .Where(d => DevicePlacement.ProcessKey(d) is not null)
            .GroupBy(d => DevicePlacement.ProcessKey(d)!))
        {
            _processes.Add(process.Key, new DeviceProcessRecord(process.Key, [.. process], clock));
        }

        _startGate = new DeviceStartGate(_processes.Count, clock);
        machine.Bus.StartGate = _startGate;
    }

    /// <summary>Whether a device process hands each access over on one core (the vCPU is then pinned to it).</summary>
    public bool AnyHandsOff => _processes.Values.Any(s => s.Devices[0].WaitPolicy == WaitPolicy.Handoff);

    /// <summary>
    /// Creates the segment for incarnation <paramref name="epoch"/> of device process <paramref name="processKey"/>;
    /// returns its memfd to pass to the device process (valid until <see cref="Bind"/>, which closes it).
    /// </summary>
    public int CreateChannel(string processKey, uint epoch)
    {
        DeviceProcessRecord process = ProcessNamed(processKey);
        RingSegment segment = RingSegment.Create($"{_shmPrefix}-{processKey}-e{epoch}", RingGeometry.Default, epoch);
        int descriptor = segment.Memory.Descriptor;
        DeviceConfig first = process.Devices[0];
        WaitSettings wait = new(first.WaitPolicy, first.SpinBudget);
        DeviceChannel channel = new(process, epoch, segment, new RingRequester(segment, wait), this);
        lock (_channelsGate)
        {
            if (process.Pending is { } abandoned)
            {
                // A restart attempt that never bound (its process failed to start): free it.
                _channels.Remove(abandoned);
                abandoned.Segment.Memory.Unlink();
                abandoned.Dispose();
            }

            process.Pending = channel;
            _channels.Add(channel);
        }

        return descriptor;
    }

    /// <summary>
    /// The device process has the segment mapped and serves its devices. First incarnation: map the devices'
    /// regions. Later ones: restore each device (snapshot plus replayed journal), swap its regions to the new
    /// ring in one publication, and let the accesses that stalled on the dead incarnation continue.
    /// </summary>
    /// <exception cref="InvalidDataException">The process declared regions that do not fit its devices.</exception>
    public void Bind(ChannelBinding binding)
    {
        DeviceProcessRecord process = ProcessNamed(binding.ProcessKey);
        CheckDeclaredRegions(process, binding.Regions);
        DeviceChannel channel = process.Pending ?? throw new InvalidOperationException($"no segment was created for '{binding.ProcessKey}'");
        process.Pending = null;
        channel.SetRegions(binding.Regions);
        channel.SetIrqLines(binding.IrqLines);
        channel.SetEventGrants(binding.EventGrants);
        channel.Bind(binding.ProcessId);
        DeviceChannel? previous = process.Current;
        if (previous is null)
        {
            // The guest may be running (it does not wait for the attaches): every device's journal starts from a
            // known state, and the channel is current, before any of its regions can be reached. A crash of an access
            // to them then waits for a successor as a later one does.
            for (int device = 0; device < process.Devices.Count; device++)
            {
                channel.TakeSnapshot(device); // (or the device is marked reset-only)
            }

            process.Activate(channel);
            for (int device = 0; device < process.Devices.Count; device++)
            {
                process.Records[device].Handle = _machine.Devices.Plug(process.Devices[device].Id, binding.Regions[device], channel.LinkFor(device));
            }

            _startGate.Attached();
        }
        else
        {
            Rebind(process, previous, channel);
        }

        // Both sides have it mapped: from here this process can pass it to no one.
        channel.Segment.Memory.Unlink();
    }

    /// <summary>
    /// The regions a device process declared (untrusted): one list per device it serves, each of at most
    /// <see cref="ProfileDefaults.MaxRegionsPerDevice"/> regions. Anything else refuses the attach with a reason.
    /// </summary>
    /// <exception cref="InvalidDataException">The declaration is malformed.</exception>
    private static void CheckDeclaredRegions(DeviceProcessRecord process, IReadOnlyList<IReadOnlyList<DeviceRegionInfo>>? regions)
    {
        if (regions is null || regions.Count != process.Devices.Count)
        {
            throw new InvalidDataException($"device process '{process.ProcessKey}' declared regions for {regions?.Count ?? 0} devices; it serves {process.Devices.Count}");
        }

        for (int device = 0; device < regions.Count; device++)
        {
            int count = regions[device]?.Count ?? -1;
            if (count is < 0 or > ProfileDefaults.MaxRegionsPerDevice)
            {
                throw new InvalidDataException($"device '{process.Devices[device].Id}' declared {(count < 0 ? "no region list" : $"{count} regions")}; expected at most {ProfileDefaults.MaxRegionsPerDevice}");
            }
        }
    }

    private void Rebind(DeviceProcessRecord process, DeviceChannel previous, DeviceChannel channel)
    {
        CrashRecord record = new()
        {
            ProcessKey = process.ProcessKey,
            Epoch = previous.Epoch,
            Reason = previous.Fault ?? "replaced",
            KilledAt = previous.KilledAt,
            DetectedAt = previous.DetectedAt,
            RestoreStartedAt = Stopwatch.GetTimestamp(),
        };
        // The dead incarnation's lines stay as they are until its successor says which it holds (below): a line the
        // device still holds then never drops and rises again, which would be a second edge the device never made.
        int held = previous.Retire();
        List<Task> drains = [];
        for (int device = 0; device < process.Devices.Count; device++)
        {
            if (channel.Restore(device) is (int replayed, int divergences))
            {
                record.Replayed += replayed;
                record.Divergences += divergences;
            }
            else
            {
                record.ResetDevices.Add(process.Devices[device].Id);
            }

            drains.Add(_machine.Devices.Rebind(process.Devices[device].Id, channel.LinkFor(device)));
            channel.TakeSnapshot(device); // the restored state is the new journal's start
        }

        HandOverLines(process, channel, held);
        process.Activate(channel);
        record.RestoredAt = Stopwatch.GetTimestamp();
        process.RecordCrash(record);

        // The dead incarnation is freed once no access holds a lease on its old regions.
        Task.WhenAll(drains).ContinueWith(
            _ =>
            {
                lock (_channelsGate)
                {
                    if (_channels.Remove(previous))
                    {
                        previous.Dispose();
                    }
                }
            },
            TaskScheduler.Default);
    }

    /// <summary>
    /// The lines a dead incarnation held (<paramref name="held"/>) go to its successor as the successor reports them:
    /// those it holds stay (or rise), the others go low. A device that does not answer holds none; its lines go low, as
    /// a line left high would swallow every later rising edge.
    /// </summary>
    private void HandOverLines(DeviceProcessRecord process, DeviceChannel successor, int held)
    {
        int holds = 0;
        for (int device = 0; device < process.Devices.Count; device++)
        {
            holds |= successor.ReportLines(device) ?? 0;
        }

        for (int line = 0; line < 32; line++)
        {
            int bit = 1 << line;
            if (((held ^ holds) & bit) != 0)
            {
                _machine.SetInterruptLine(line, (holds & bit) != 0);
            }
        }
    }

    /// <summary>
    /// An incarnation given up is retired (none of its later interrupt events applies) and its asserted lines go low:
    /// no successor will hold them, and a line left high would swallow every later rising edge.
    /// </summary>
    private void RetireAndLowerLines(DeviceChannel dead)
    {
        int held = dead.Retire();
        for (int line = 0; held != 0; line++, held >>= 1)
        {
            if ((held & 1) != 0)
            {
                _machine.SetInterruptLine(line, false);
            }
        }
    }

    /// <summary>
    /// The launcher saw device process <paramref name="processKey"/> exit. Returns why this process killed it
    /// (crash injection, a hung handler), or null when it died on its own.
    /// </summary>
    public string? ProcessExited(string processKey)
    {
        DeviceChannel? channel = ProcessNamed(processKey).Current;
        channel?.MarkDead("process exited");
        return channel?.KillReason;
    }

    /// <summary>
    /// The launcher gave up restarting <paramref name="processKey"/>: waiting accesses end as bus errors, and the
    /// devices are unplugged or the machine halted as the profile says.
    /// </summary>
    public void GiveUp(string processKey, GiveUpAction action, string why)
    {
        DeviceProcessRecord process = ProcessNamed(processKey);
        if (action == GiveUpAction.Halt)
        {
            // The exit is recorded before the waiters are released: released, a vCPU reads all ones and could run
            // on to an exit of its own before the halt is seen (the first exit recorded wins).
            _machine.RequestExit(ExitReason.DeviceFailure, ExitCodes.Failure, null, $"device process '{processKey}' failed: {why}");
        }

        process.GiveUp();
        if (process.Current is { } dead)
        {
            RetireAndLowerLines(dead);
        }

        foreach (DeviceConfig device in process.Devices)
        {
            _machine.PulseTrains.CancelAll(device.Id); // a device given up interrupts no more
        }

        if (action == GiveUpAction.Unplug)
        {
            foreach (DeviceConfig device in process.Devices)
            {
                _ = _machine.Devices.UnplugAsync(device.Id, DeviceMap.DefaultDrainDeadline);
            }
        }
    }

    /// <summary>Crashes of every device process and their recoveries.</summary>
    public IReadOnlyList<CrashRecord> CrashRecords() => _processes.Values.SelectMany(s => s.Crashes()).ToArray();

    /// <summary>Per-device access counters of the current incarnations.</summary>
    public IEnumerable<DeviceAccessStats> Stats()
    {
        foreach (DeviceProcessRecord process in _processes.Values)
        {
            if (process.Current is { } channel)
            {
                for (int i = 0; i < process.Devices.Count; i++)
                {
                    yield return channel.Stats(i);
                }
            }
        }
    }

    /// <summary>Rings each process's doorbell for posted writes not yet announced (between run slices).</summary>
    public void FlushPosted()
    {
        foreach (DeviceProcessRecord process in _processes.Values)
        {
            process.Current?.FlushPosted();
        }
    }

    /// <summary>A machine reset: every device of every process back to its power-on state, through the ring.</summary>
    public void ResetDevices()
    {
        foreach (DeviceProcessRecord process in _processes.Values)
        {
            process.Current?.ResetDevices();
        }
    }

    /// <summary>
    /// The guest has stopped: what it posted reaches the devices. A dead device's successor is waited for only when
    /// <paramref name="guestEnded"/> (a user's stop must not wait for a restart), and for all of them together well
    /// within the launcher's 10 s stop deadline.
    /// </summary>
    public void DrainPosted(bool guestEnded)
    {
        long deadline = Environment.TickCount64 + DrainSuccessorTimeoutMs;
        foreach (DeviceProcessRecord process in _processes.Values)
        {
            process.DrainPosted(guestEnded, deadline);
        }
    }

    /// <summary>The machine stops: nobody waits for a restart any more (a vCPU stalled on a dead device sees it).</summary>
    public void ShutDown()
    {
        _startGate.Open();
        foreach (DeviceProcessRecord process in _processes.Values)
        {
            process.ShutDown();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        ShutDown();
        lock (_channelsGate)
        {
            foreach (DeviceChannel channel in _channels)
            {
                channel.Segment.Memory.Unlink();
                channel.Dispose();
            }

            _channels.Clear();
        }
    }

    private DeviceProcessRecord ProcessNamed(string processKey) =>
        _processes.TryGetValue(processKey, out DeviceProcessRecord? process)
            ? process
            : throw new ArgumentException($"no device of this machine runs in a process named '{processKey}'", nameof(processKey));

    /// <inheritdoc/>
    public void InterruptLine(IsolatedDeviceRecord device, int line, bool asserted) => _machine.SetInterruptLine(line, asserted);

    /// <inheritdoc/>
    public bool PulseTrain(IsolatedDeviceRecord device, int line, PulseTrain train) => _machine.PulseTrains.Set(device.Id, line, train);

    /// <inheritdoc/>
    public void PulseTrainStopped(IsolatedDeviceRecord device, int line) => _machine.PulseTrains.Cancel(device.Id, line);

    /// <inheritdoc/>
    public void DmaWritten(ulong address, int length) => _machine.InvalidateCode(address, length);

    /// <inheritdoc/>
    public void MapChange(IsolatedDeviceRecord device, int region, MapChangeKind kind, ulong newBase) =>
        _machine.Devices.RequestChange(device.Handle, region, kind, newBase); // the record's handle: no lookup by id (none yet: refused)

    /// <inheritdoc/>
    public void MachineExit(IsolatedDeviceRecord device, int exitCode, ulong guestValue) => _machine.RequestGuestExit(exitCode, guestValue);

    /// <inheritdoc/>
    public void MachineReset(IsolatedDeviceRecord device) => _machine.RequestReset($"device '{device.Id}'");

    /// <inheritdoc/>
    public void ChannelFaulted(DeviceChannel channel, string why)
    {
        // Stop the process before any lease is released (DESIGN.md section 3): then wake the waiters.
        channel.RecordFault(why);
        ProcessKiller.KillAndWait(channel.ProcessId, TimeSpan.FromSeconds(1));
        channel.MarkDead(why);
        Console.Error.WriteLine($"device process '{channel.ProcessKey}' (pid {channel.ProcessId}) faulted: {why}");
    }
}
