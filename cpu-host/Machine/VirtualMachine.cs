using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Memory;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// One machine in the CPU process: guest RAM, the memory and I/O address spaces, the CPU, the inline devices,
/// and a <see cref="DeviceChannel"/> per device process. Built from a validated profile.
/// </summary>
public sealed class VirtualMachine : IDisposable
{
    /// <summary>Instructions per CPU run slice between checks of the machine's state.</summary>
    private const long RunSlice = 1_000_000;

    private readonly MachineProfile _profile;
    private readonly string _shmPrefix;
    private readonly IDeviceOutputSink _output;
    private readonly GuestRam _ram;
    private readonly Dictionary<string, InlineDevice> _inlineDevices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DeviceChannel> _channels = new(StringComparer.Ordinal);
    private readonly Lock _channelsGate = new();

    /// <summary>Set once, by whoever ends the machine first.</summary>
    private MachineExitInfo? _exit;

    /// <summary>Builds the machine: RAM, images, CPU state, inline devices. Isolated devices are bound later.</summary>
    public VirtualMachine(MachineProfile profile, string shmPrefix, IDeviceOutputSink output)
    {
        _profile = profile;
        _shmPrefix = shmPrefix;
        _output = output;
        _ram = new GuestRam((ulong)profile.Memory.SizeMiB << 20);
        Memory = new AddressSpace("memory", 1UL << 32);
        Io = new AddressSpace("io", 0x10000);
        Bus = new MachineBus(Memory, Io);
        Devices = new DeviceMap(Memory, Io);
        Cpu = new X86Cpu(Bus);

        unsafe
        {
            using MapTransaction transaction = Memory.BeginTransaction();
            Memory.AddSubregion(Memory.Root, 0, MemoryRegion.Ram("ram", _ram.Size, _ram.Base));
        }

        foreach (LoadConfig image in profile.Load)
        {
            _ram.Load(image.Address, File.ReadAllBytes(image.File));
        }

        foreach (DeviceConfig device in profile.Devices.Where(d => d.Placement == Placement.Inline))
        {
            AddInlineDevice(device);
        }

        switch (profile.Cpu.Mode)
        {
            case CpuStartMode.Protected32Flat:
                Cpu.EnterFlatProtectedMode((uint)profile.Cpu.Entry, (uint)profile.Cpu.Stack);
                break;
            default:
                Cpu.Reset();
                break;
        }
    }

    /// <summary>The guest-physical memory space.</summary>
    public AddressSpace Memory { get; }

    /// <summary>The I/O port space.</summary>
    public AddressSpace Io { get; }

    /// <summary>Dispatch of CPU accesses.</summary>
    public MachineBus Bus { get; }

    /// <summary>The CPU.</summary>
    public X86Cpu Cpu { get; }

    /// <summary>Device regions in the map: plug, unplug, device-requested changes.</summary>
    public DeviceMap Devices { get; }

    /// <summary>Guest RAM.</summary>
    public GuestRam Ram => _ram;

    /// <summary>Interrupt line levels.</summary>
    public InterruptLines Interrupts { get; } = new();

    /// <summary>How the machine ended, once it has.</summary>
    public MachineExitInfo? Exit => Volatile.Read(ref _exit);

    /// <summary>Creates the segment for device process <paramref name="processKey"/>; returns its path.</summary>
    public string CreateChannel(string processKey, uint epoch)
    {
        DeviceConfig[] devices = DevicesOf(processKey);
        if (devices.Length == 0)
        {
            throw new ArgumentException($"no device of this machine runs in a process named '{processKey}'", nameof(processKey));
        }

        string path = Path.Combine(SharedMemorySegment.ShmFolder, $"{_shmPrefix}-{processKey}-e{epoch}");
        RingSegment segment = RingSegment.Create(path, RingGeometry.Default, epoch);
        WaitSettings wait = new(devices[0].WaitPolicy, devices[0].SpinBudget);
        DeviceChannel? channel = null;
        channel = new(processKey, segment, new RingRequester(segment, wait), message => ApplyEvent(channel!, message), OnChannelFault);
        lock (_channelsGate)
        {
            if (_channels.Remove(processKey, out DeviceChannel? previous))
            {
                previous.Dispose();
            }

            _channels.Add(processKey, channel);
        }

        return path;
    }

    /// <summary>Maps the regions of a device process's devices to its ring; removes the segment's file name.</summary>
    public void BindChannel(ChannelBinding binding)
    {
        DeviceChannel channel;
        lock (_channelsGate)
        {
            channel = _channels[binding.ProcessKey];
        }

        channel.Bind(binding.ProcessId, binding.DeviceIds);
        for (int device = 0; device < binding.DeviceIds.Count; device++)
        {
            Devices.Plug(binding.DeviceIds[device], binding.Regions[device], channel.LinkFor(device));
        }

        // Both sides have it mapped: from here no crash can leak the file.
        channel.Segment.Memory.Unlink();
    }

    /// <summary>Runs the guest until something ends the machine.</summary>
    public MachineExitInfo Run(CancellationToken cancellationToken)
    {
        using CancellationTokenRegistration stop = cancellationToken.Register(() => RequestExit(ExitReason.Stopped, ExitCodes.Interrupted, null, "cancelled"));
        while (Exit is null)
        {
            CpuRunResult result = Cpu.Run(RunSlice);
            switch (result.Reason)
            {
                case CpuStopReason.Shutdown:
                    RequestExit(ExitReason.CpuShutdown, ExitCodes.GuestCrashed, null, "triple fault");
                    break;
                case CpuStopReason.Halted:
                    // No interrupt controller yet: nothing can wake a halted CPU.
                    RequestExit(ExitReason.Halted, ExitCodes.GuestCrashed, null, $"HLT at EIP 0x{Cpu.State.Rip:X}");
                    break;
            }
        }

        // The CPU has stopped: its instruction count is final now (mid-instruction it may lag).
        return Exit! with { Instructions = Cpu.InstructionsExecuted };
    }

    /// <summary>The guest wrote to the debug-exit device.</summary>
    public void RequestGuestExit(int exitCode, ulong guestValue) =>
        RequestExit(ExitReason.GuestExit, exitCode, (long)guestValue, null);

    /// <summary>Ends the machine (first caller wins); the CPU stops at its next instruction boundary.</summary>
    public void RequestExit(ExitReason reason, int exitCode, long? guestValue, string? detail)
    {
        MachineExitInfo info = new()
        {
            Reason = reason,
            ExitCode = exitCode,
            GuestValue = guestValue,
            Instructions = Cpu.InstructionsExecuted,
            Detail = detail,
        };
        Interlocked.CompareExchange(ref _exit, info, null);
        Cpu.RequestStop();
    }

    /// <summary>The launcher saw device process <paramref name="processKey"/> exit.</summary>
    public void DeviceProcessExited(string processKey)
    {
        lock (_channelsGate)
        {
            if (_channels.TryGetValue(processKey, out DeviceChannel? channel))
            {
                channel.MarkDead("process exited");
            }
        }
    }

    /// <summary>Per-device access counters as this process saw them.</summary>
    public IReadOnlyList<DeviceAccessStats> DeviceStats()
    {
        List<DeviceAccessStats> stats = [.. _inlineDevices.Values.Select(d => d.Stats(0))];
        lock (_channelsGate)
        {
            foreach (DeviceChannel channel in _channels.Values)
            {
                for (int i = 0; i < channel.DeviceIds.Count; i++)
                {
                    stats.Add(channel.Stats(i));
                }
            }
        }

        return stats;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_channelsGate)
        {
            foreach (DeviceChannel channel in _channels.Values)
            {
                channel.Segment.Memory.Unlink();
                channel.Dispose();
            }

            _channels.Clear();
        }

        _ram.Dispose();
    }

    private DeviceConfig[] DevicesOf(string processKey) =>
        _profile.Devices.Where(d => DevicePlacement.ProcessKey(d) == processKey).ToArray();

    private void AddInlineDevice(DeviceConfig config)
    {
        IDevice device = DeviceCatalog.Create(config, new InlineDeviceContext(config, this, _output));
        InlineDevice inline = new(config.Id, device);
        _inlineDevices.Add(config.Id, inline);
        Devices.Plug(config.Id, device.Regions, inline);
    }

    /// <summary>The id of device number <paramref name="index"/> of the process whose channel is <paramref name="channel"/>.</summary>
    private static string? DeviceIdOf(DeviceChannel channel, int index) =>
        (uint)index < (uint)channel.DeviceIds.Count ? channel.DeviceIds[index] : null;

    private void ApplyEvent(DeviceChannel channel, RingMessage message)
    {
        switch (message.Kind)
        {
            case MessageKind.MapChange when DeviceIdOf(channel, message.Device) is { } deviceId:
                Devices.RequestChange(deviceId, message.Region, (MapChangeKind)message.Value, message.Offset);
                break;
            case MessageKind.IrqLevel:
                Interrupts.SetLevel((int)Math.Min(message.Offset, int.MaxValue), message.Value != 0);
                break;
            case MessageKind.MachineExit:
                RequestGuestExit((int)(message.Value & 0xFF), message.Argument0);
                break;
        }
    }

    private void OnChannelFault(DeviceChannel channel, string why)
    {
        // Stop the process before any lease is released (DESIGN.md section 3): then wake the waiters.
        ProcessKiller.KillAndWait(channel.ProcessId, TimeSpan.FromSeconds(1));
        channel.MarkDead(why);
        Console.Error.WriteLine($"device process '{channel.ProcessKey}' (pid {channel.ProcessId}) faulted: {why}");
    }
}
