using System.Diagnostics;
using System.Runtime.CompilerServices;
using SplitEmu.CpuHost.Cpu;
using SplitEmu.CpuHost.Cpu.Translation;
using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Memory;
using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Devices;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Boot;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Timing;
using SplitEmu.Shared.Transport;

namespace SplitEmu.CpuHost.Machine;

/// <summary>
/// One machine in the CPU process: guest RAM and firmware, the memory and I/O address spaces, the CPU, the inline
/// devices and the device processes (<see cref="IsolatedDevices"/>, whose incarnations come and go). Built from a
/// validated profile; the façade the control endpoint drives.
/// </summary>
public sealed partial class VirtualMachine : IDisposable, Platform.IPlatformHost
{
    /// <summary>Instructions per CPU run slice between checks of the machine's state.</summary>
    private const long RunSlice = 1_000_000;

    private readonly MachineProfile _profile;
    private readonly IDeviceOutputSink _output;
    private readonly GuestRam _ram;

    /// <summary>The firmware ROM (null without firmware), freed with the machine.</summary>
    private readonly FirmwareRom? _firmware;
    private readonly Dictionary<string, InlineDevice> _inlineDevices = new(StringComparer.Ordinal);

    /// <summary>The device processes: their incarnations, crashes and events.</summary>
    private readonly IsolatedDevices _isolated;

    /// <summary>Set once, by whoever ends the machine first.</summary>
    private MachineExitInfo? _exit;

    /// <summary>Set while the vCPU may run; reset by <see cref="Pause"/> (the monitor), set again by <see cref="Resume"/> or an exit.</summary>
    private readonly ManualResetEventSlim _mayRun = new(initialState: true);

    /// <summary>The vCPUs; the first is the bootstrap processor, whose thread also runs the machine's timers and input.</summary>
    private readonly Vcpu[] _vcpus;

    /// <summary>Longest sleep of a halted vCPU between looks at its state (a safety net; wake-ups are signalled).</summary>
    private const int HaltSleepLimitMs = 50;

    /// <summary>Set while every vCPU thread is parked between run slices because of a pause.</summary>
    private readonly ManualResetEventSlim _parked = new(initialState: false);

    /// <summary>vCPU threads parked now (a pause parks all of them).</summary>
    private int _parkedVcpus;

    /// <summary>The machine clock's one writer (stopped while the machine stands still).</summary>
    private readonly MachineClockSource _clock = new();

    /// <summary>The start state's sources, read once (<see cref="LoadStartState"/>).</summary>
    private readonly IReadOnlyList<(ulong Address, byte[] Bytes)> _images;
    private readonly LinuxKernelImage? _kernel;
    private readonly byte[]? _initrd;

    /// <summary>Who asked for a reset not yet done (null: none).</summary>
    private string? _resetRequestedBy;
    private int _resets;

    /// <summary>Firmware's platform set-up for a directly booted kernel, done on the vCPU thread before its first instruction.</summary>
    private bool _platformSetupPending;

    /// <summary>Builds the machine: RAM, images, CPU state, inline devices. Isolated devices are bound later.</summary>
    public VirtualMachine(MachineProfile profile, string shmPrefix, IDeviceOutputSink output)
    {
        _profile = profile;
        _output = output;
        _ram = new GuestRam((ulong)profile.Memory.SizeMiB << 20);
        MachineMap map = new(); // one transaction and one publication for all three spaces
        Memory = new AddressSpace("memory", 1UL << 32, map);
        Io = new AddressSpace("io", 0x10000, map);
        PciConfig = new AddressSpace("pci-config", PciConfigAddress.SpaceSize, map);
        Bus = new MachineBus(Memory, Io, PciConfig);
        Devices = new DeviceMap(Memory, Io, PciConfig);
        _vcpus = new Vcpu[profile.Cpu.Count];
        CoherenceDomain coherence = new(); // one RAM: locked operations and code invalidation span every vCPU
        for (int index = 0; index < _vcpus.Length; index++)
        {
            _vcpus[index] = new Vcpu(index, new X86Cpu(Bus, coherence)
            {
                TimeStampSource = () => (ulong)_clock.Clock.NowNanoseconds, // one clock: the TSCs of all vCPUs agree
                Progressed = index == 0 ? OnProgress : null,
                ExecutionMode = profile.Cpu.Execution == CpuExecution.Translator && RuntimeFeature.IsDynamicCodeCompiled
                    ? CpuExecutionMode.Translator
                    : CpuExecutionMode.Interpreter,
                CompileInBackground = true,
            });
        }

        CreateLocalApics();

        // The bootstrap processor's thread runs due inline timers, pulse trains and console input between its slices.
        Timers = new InlineTimers(Bootstrap.Signal, _clock.Clock);
        PulseTrains = new InterruptPulseTrains(SetInterruptLine, () => _clock.Clock.NowNanoseconds, Bootstrap.Signal);

        unsafe
        {
            using MapTransaction transaction = Memory.BeginTransaction();
            Memory.AddSubregion(Memory.Root, 0, MemoryRegion.Ram("ram", _ram.Size, _ram.Base));
        }

        if (profile.Console is { } console)
        {
            ConsoleInput = new ConsoleInput(console, [Io, Memory], Bootstrap.Signal, RunSlice); // offered between slices
        }

        // Read once: a reset loads the same bytes again, whatever happened to the files since.
        _images = [.. profile.Load.Select(image => (image.Address, File.ReadAllBytes(image.File)))];
        if (profile.Firmware is { } firmware)
        {
            _firmware = new FirmwareRom(File.ReadAllBytes(firmware.File));
            unsafe
            {
                using MapTransaction transaction = Memory.BeginTransaction();
                Memory.AddSubregion(Memory.Root, _firmware.Address, MemoryRegion.Rom("bios", _firmware.Size, _firmware.Base));
            }
        }

        if (profile.Kernel is { } kernel)
        {
            _kernel = LinuxKernelImage.Parse(File.ReadAllBytes(kernel));
            _initrd = profile.Initrd is { } initrd ? File.ReadAllBytes(initrd) : null;
        }

        foreach (DeviceConfig device in profile.Devices.Where(d => d.Placement == Placement.Inline))
        {
            AddInlineDevice(device);
        }

        _isolated = new IsolatedDevices(this, shmPrefix, _clock, profile.Devices);
        LoadStartState();
    }

    /// <summary>
    /// What power-on gives the machine and a reset gives it again: the images in RAM, the firmware's shadow, a
    /// directly booted kernel with its boot_params and ACPI tables, and the CPU at its start state.
    /// </summary>
    private void LoadStartState()
    {
        foreach ((ulong address, byte[] bytes) in _images)
        {
            _ram.Load(address, bytes);
        }

        _firmware?.LoadShadow(_ram);
        _apicBus?.Reset(); // each local APIC as at power-on: the BSP's LINT0 takes the 8259, the others wait for INIT
        foreach (Vcpu vcpu in _vcpus)
        {
            vcpu.Cpu.Reset(); // the application processors wait for INIT and start-up IPIs again
            vcpu.PowerOn();
        }

        if (_kernel is { } kernel)
        {
            LinuxDirectBoot.Boot(_ram, Cpu, kernel, _initrd, _profile.Cmdline ?? "");
            if (_profile.Devices.FirstOrDefault(d => d.Type == DeviceHost.Devices.Power.AcpiPowerManagement.TypeName) is { } pm)
            {
                // Firmware would describe the power-management hardware; with no firmware, the loader does.
                AcpiTables.Write(_ram, pm.Io ?? DeviceHost.Devices.Power.AcpiPowerManagement.DefaultBase, pm.Irq ?? DeviceHost.Devices.Power.AcpiPowerManagement.DefaultSci,
                    AcpiIsaDevice.Describe(_profile.Devices), DescribeApics());
            }

            if (_apicBus is not null)
            {
                WriteMpTable(); // so the kernel finds the other processors and the I/O APIC
            }

            _platformSetupPending = true; // at power-on it needs the device processes, which attach after construction
            return;
        }

        if (_profile.Cpu.Mode == CpuStartMode.Protected32Flat)
        {
            Cpu.EnterFlatProtectedMode((uint)_profile.Cpu.Entry, (uint)_profile.Cpu.Stack);
        }
    }

    /// <summary>
    /// Asks for a machine reset (a reset line or register; see <see cref="IDeviceContext.RequestMachineReset"/>),
    /// done on the vCPU thread at its next instruction boundary. Thread-safe; requests before it is done merge.
    /// </summary>
    public void RequestReset(string requestedBy)
    {
        Interlocked.CompareExchange(ref _resetRequestedBy, requestedBy, null);
        Bootstrap.Signal();
    }

    /// <summary>Resets the machine has done so far.</summary>
    public int Resets => Volatile.Read(ref _resets);

    /// <summary>
    /// The reset itself (vCPU thread): every device back to its power-on state, inline and in every device process
    /// (there through the ring, surviving a crash of the process meanwhile), then the start state loaded again.
    /// Guest RAM is kept, as a reset keeps it; the machine clock runs on.
    /// </summary>
    private void ResetMachine(string requestedBy)
    {
        Interlocked.Increment(ref _resets);
        Console.Error.WriteLine($"splitemu: machine '{_profile.Name}' reset (requested by {requestedBy})");
        using ApplicationProcessorHold held = HoldApplicationProcessors(); // they stop at a boundary and start again waiting for IPIs
        PulseTrains.CancelEverything(); // each device states its power-on trains as it resets (one that is down, none)
        foreach (InlineDevice inline in _inlineDevices.Values)
        {
            inline.Reset();
        }

        _isolated.ResetDevices();
        LoadStartState();
    }

    /// <summary>The machine clock: guest-visible time in every process of this machine (docs/machine-clock.md).</summary>
    public MachineClock Clock => _clock.Clock;

    /// <summary>Nanoseconds the machine clock has stood still so far (stalls on dead devices, pauses).</summary>
    public long ClockStoppedNanoseconds => _clock.StoppedNanoseconds;

    /// <summary>The guest-physical memory space.</summary>
    public AddressSpace Memory { get; }

    /// <summary>The I/O port space.</summary>
    public AddressSpace Io { get; }

    /// <summary>PCI configuration space (reached through the host bridge).</summary>
    public AddressSpace PciConfig { get; }

    /// <summary>The interrupt controller, when the profile has one.</summary>
    public Platform.DualPic8259? Pic { get; private set; }

    /// <summary>Dispatch of CPU accesses.</summary>
    public MachineBus Bus { get; }

    /// <summary>The bootstrap processor's CPU (the only one of a single-vCPU machine).</summary>
    public X86Cpu Cpu => _vcpus[0].Cpu;

    /// <summary>The bootstrap processor.</summary>
    internal Vcpu Bootstrap => _vcpus[0];

    /// <summary>How many vCPUs the machine has.</summary>
    public int VcpuCount => _vcpus.Length;

    /// <summary>The CPU of vCPU <paramref name="index"/> (0 is the bootstrap processor).</summary>
    public X86Cpu CpuOf(int index) => _vcpus[index].Cpu;

    /// <summary>
    /// Something other than the vCPUs (a device's DMA, an inline device writing guest memory) wrote guest RAM: every
    /// vCPU drops what it decoded or translated from there, at its next instruction boundary. Thread-safe.
    /// </summary>
    public void InvalidateCode(ulong physicalAddress, int length)
    {
        foreach (Vcpu vcpu in _vcpus)
        {
            vcpu.Cpu.InvalidateCode(physicalAddress, length);
        }
    }

    /// <summary>Each vCPU's state for the monitor, read from other threads while they run (exact once they are parked).</summary>
    public IReadOnlyList<MonitorVcpuState> DescribeVcpus() =>
    [
        .. _vcpus.Select(v => new MonitorVcpuState
        {
            Index = v.Index,
            State = v.WaitingForStartup ? "waiting-for-startup" : v.Cpu.State.Halted ? "halted" : "running",
            InstructionPointer = v.Cpu.State.Segments[SegmentIndex.CS].Base + v.Cpu.State.Rip,
            Instructions = v.Cpu.InstructionsExecuted,
        }),
    ];

    /// <summary>Instructions all vCPUs have retired (exact once they have stopped; while they run it may lag).</summary>
    public long InstructionsExecuted => _vcpus.Sum(v => v.Cpu.InstructionsExecuted);

    /// <summary>Device regions in the map: plug, unplug, device-requested changes.</summary>
    public DeviceMap Devices { get; }

    /// <summary>Guest RAM.</summary>
    public GuestRam Ram => _ram;

    /// <summary>Interrupt line levels.</summary>
    public InterruptLines Interrupts { get; } = new();

    /// <summary>Timers of the inline devices.</summary>
    public InlineTimers Timers { get; }

    /// <summary>The periodic interrupts devices handed to the machine (a PIT's system timer).</summary>
    public InterruptPulseTrains PulseTrains { get; }

    /// <summary>Input for the profile's console device, or null when the machine has no console.</summary>
    public ConsoleInput? ConsoleInput { get; }

    /// <summary>Guest RAM as bus-master device processes map it, its memfd passed under <paramref name="descriptor"/>.</summary>
    public GuestMemoryShare GuestMemoryShare(ulong descriptor) => _ram.Share(descriptor);

    /// <summary>The memfd of guest RAM, to pass to the launcher (SCM_RIGHTS).</summary>
    public int GuestMemoryDescriptor => _ram.Descriptor;

    /// <summary>Guest RAM as inline bus-master devices reach it: in this process, within the same windows.</summary>
    internal unsafe DeviceHost.Common.GuestMemoryWindow GuestMemoryWindow() => new(_ram.Base, _ram.Size, _ram.Share(0).Windows);

    /// <summary>A device drove ISA interrupt line <paramref name="line"/> (any thread; untrusted lines are ignored).</summary>
    public void SetInterruptLine(int line, bool asserted)
    {
        Interrupts.SetLevel(line, asserted);
        Pic?.SetLine(line, asserted);
        _ioApic?.SetLine(MpTable.IoApicPinOf(line), asserted); // both hear every line, as on a PC; the guest masks one
    }

    /// <summary>The interrupt controller's output may have risen (any thread): the CPU looks, a halted vCPU wakes.</summary>
    public void InterruptMayBePending() => Bootstrap.InterruptMayBePending(); // the 8259's output is wired to the BSP

    /// <summary>
    /// Makes <paramref name="pic"/> the CPU's interrupt source (the profile's i8259): directly, or with local APICs
    /// through the bootstrap processor's LINT0 (and ExtINT messages).
    /// </summary>
    Platform.DualPic8259 Platform.IPlatformHost.AttachInterruptController(Platform.DualPic8259 pic)
    {
        Pic = pic;
        if (_apicBus is { } bus)
        {
            bus.ExternalInterruptSource = pic;
        }
        else
        {
            Cpu.InterruptController = pic;
        }

        return pic;
    }

    /// <summary>How the machine ended, once it has.</summary>
    public MachineExitInfo? Exit => Volatile.Read(ref _exit);

    /// <summary>
    /// Creates the segment for incarnation <paramref name="epoch"/> of device process <paramref name="processKey"/>;
    /// returns its memfd to pass to the device process (valid until <see cref="BindChannel"/>, which closes it).
    /// The incarnation serves once <see cref="BindChannel"/> is called.
    /// </summary>
    public int CreateChannel(string processKey, uint epoch) => _isolated.CreateChannel(processKey, epoch);

    /// <summary>
    /// The device process has the segment mapped and serves its devices: its regions are mapped (first incarnation)
    /// or its devices restored and swapped to the new ring (a restart). See <see cref="IsolatedDevices.Bind"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The process declared regions that do not fit its devices.</exception>
    public void BindChannel(ChannelBinding binding) => _isolated.Bind(binding);

    /// <summary>Runs the guest until something ends the machine.</summary>
    public MachineExitInfo Run(CancellationToken cancellationToken)
    {
        using CancellationTokenRegistration stop = cancellationToken.Register(() => RequestExit(ExitReason.Stopped, ExitCodes.Interrupted, null, "cancelled"));
        bool pinned = false;
        if (_isolated.AnyHandsOff && CorePlacement.VcpuCoreOf(_vcpus.Length) is int core)
        {
            // Handoff is fast only when the vCPU and the device's serving thread share a core (no cross-core
            // wake-up): ~6 us per guest access pinned against up to ~77 us unpinned (docs/transport-bench.md).
            pinned = ThreadAffinity.PinCurrentThread(core);
        }

        List<Thread> applicationProcessors = StartApplicationProcessors();
        try
        {
            return RunPinned();
        }
        finally
        {
            JoinApplicationProcessors(applicationProcessors);
            if (pinned)
            {
                ThreadAffinity.UnpinCurrentThread(); // the caller's thread may be a pool thread with other work to do
            }
        }
    }

    private MachineExitInfo RunPinned()
    {
        try
        {
            return RunUntilExit();
        }
        finally
        {
            // However the vCPU stops, its devices' time runs freely while they are shut down.
            _clock.ReleaseLead();
        }
    }

    private MachineExitInfo RunUntilExit()
    {
        _clock.KeepPaceWithThisThread(); // the bootstrap processor's; the other vCPUs' device waits do not hold time
        _apicBus?.EnterVcpu(0); // this thread's accesses to the APIC page reach the bootstrap processor's APIC
        try
        {
            return RunBootstrapProcessor();
        }
        finally
        {
            Platform.ApicBus.LeaveVcpu();
        }
    }

    private MachineExitInfo RunBootstrapProcessor()
    {
        while (Exit is null)
        {
            if (_platformSetupPending)
            {
                // Before the first instruction of a directly booted kernel, at power-on and after each reset.
                _platformSetupPending = false;
                DirectBootPlatformSetup.Run(Bus);
            }

            if (!_mayRun.IsSet)
            {
                // Paused (monitor): park at this instruction boundary until resumed or ended; the guest's
                // clock stands still meanwhile.
                using (_clock.Stop())
                {
                    Park(() => _mayRun.IsSet);
                }

                continue;
            }

            // While input waits for room in the console device, slices are short: the guest frees room by reading.
            _clock.CheckIn(); // the guest's time keeps pace with its vCPU (docs/machine-clock.md)
            Bootstrap.TakeStartSignals(); // an INIT sent to the bootstrap processor restarts it at the reset vector
            CpuRunResult result = Cpu.Run(ConsoleInput is { HasPending: true } input ? input.RetryInstructions : RunSlice);
            ConsoleInput?.Pump();
            _isolated.FlushPosted(); // posted writes never wait longer than a run slice for the device

            Timers.RunDue();
            PulseTrains.RunDue();
            Bootstrap.RunDueApicTimer(_clock.Clock.NowNanoseconds);
            if (Exit is null && Interlocked.Exchange(ref _resetRequestedBy, null) is { } requestedBy)
            {
                ResetMachine(requestedBy);
                continue;
            }

            switch (result.Reason)
            {
                case CpuStopReason.Shutdown:
                    RequestExit(ExitReason.CpuShutdown, ExitCodes.GuestCrashed, null, "triple fault");
                    break;
                case CpuStopReason.Halted when _vcpus.Length == 1 && ((Pic is null && _apicBus is null) || (Cpu.State.Eflags & EflagsBits.IF) == 0):
                    // Nothing can wake this CPU (no interrupt controller, or interrupts disabled, and no other vCPU to
                    // send it an IPI or NMI): it is stopped for good.
                    RequestExit(ExitReason.Halted, ExitCodes.GuestCrashed, null, $"HLT at EIP 0x{Cpu.State.Rip:X}");
                    break;
                case CpuStopReason.Halted:
                    WaitWhileHalted();
                    break;
            }
        }

        // What the guest posted before it stopped is handled, never lost with the machine.
        _isolated.DrainPosted(guestEnded: Exit!.Reason != ExitReason.Stopped);

        // The CPU has stopped: its instruction count is final now (mid-instruction it may lag).
        return Exit! with { Instructions = InstructionsExecuted, Cpu = CpuExecutionSummary() };
    }

    /// <summary>
    /// The vCPU's check-in every 65,536 instructions: the clock keeps pace with it, and a pulse train's due pulse
    /// ends the slice here, on the vCPU's own thread, however late the host runs any other thread.
    /// </summary>
    private void OnProgress()
    {
        _clock.CheckIn();
        long nextDeadline = Math.Min(PulseTrains.NextDeadline, Bootstrap.ApicTimerDeadline);
        if (nextDeadline != long.MaxValue && nextDeadline <= _clock.Clock.NowNanoseconds)
        {
            Cpu.RequestStop();
        }
    }

    /// <summary>HLT with interrupts enabled: sleep until an interrupt, a due inline timer, a pause or the end.</summary>
    private void WaitWhileHalted()
    {
        if (Bootstrap.HasWakeEvent || Exit is not null || !_mayRun.IsSet)
        {
            return;
        }

        long nextTimer = Math.Min(Math.Min(Timers.NextDeadline, PulseTrains.NextDeadline), Bootstrap.ApicTimerDeadline);
        long untilTimer = nextTimer - _clock.Clock.NowNanoseconds;
        int sleepMs = HaltSleepMilliseconds(untilTimer);
        if (sleepMs > 0)
        {
            _clock.ReleaseLead(); // an idle vCPU waits for time to pass: it must not hold the clock back
            Bootstrap.Sleep(sleepMs);
        }
    }

    /// <summary>How long a halted vCPU sleeps when its next timer is <paramref name="untilTimerNs"/> away: rounded up, at most <see cref="HaltSleepLimitMs"/>.</summary>
    private static int HaltSleepMilliseconds(long untilTimerNs) =>
        untilTimerNs <= 0 ? 0 : (int)Math.Min((untilTimerNs - 1) / 1_000_000 + 1, HaltSleepLimitMs);

    /// <summary>Whether a pause is in effect (the vCPU may still be finishing its access: see <see cref="IsParked"/>).</summary>
    public bool IsPaused => !_mayRun.IsSet && Exit is null;

    /// <summary>Whether every vCPU thread is parked by a pause.</summary>
    public bool IsParked => _parked.IsSet && IsPaused;

    /// <summary>Pauses the vCPUs: they stop at their next instruction boundary and wait for <see cref="Resume"/>. Thread-safe.</summary>
    public void Pause()
    {
        _mayRun.Reset();
        SignalAll(); // cut the current run slices short; the loops then park
        if (Exit is not null)
        {
            _mayRun.Set(); // ended meanwhile: never park an ending machine
        }
    }

    /// <summary>Lets a paused vCPU continue. Thread-safe.</summary>
    public void Resume() => _mayRun.Set();

    /// <summary>Waits until the vCPU thread parked after <see cref="Pause"/>; false on timeout, resume or exit.</summary>
    public bool WaitParked(TimeSpan timeout)
    {
        Stopwatch waited = Stopwatch.StartNew();
        while (IsPaused && waited.Elapsed < timeout)
        {
            if (_parked.Wait(TimeSpan.FromMilliseconds(20)))
            {
                return IsParked;
            }
        }

        return IsParked;
    }

    /// <summary>The guest wrote to the debug-exit device.</summary>
    public void RequestGuestExit(int exitCode, ulong guestValue) =>
        RequestExit(ExitReason.GuestExit, exitCode, (long)guestValue, null);

    /// <summary>The vCPU's mode and the translator's counters (read when the vCPU has stopped).</summary>
    private CpuExecutionReport CpuExecutionSummary()
    {
        TranslationStatistics[] all = [.. _vcpus.Select(v => v.Cpu.Translation)];
        return new CpuExecutionReport
        {
            Execution = Cpu.ExecutionMode == CpuExecutionMode.Translator ? "translator" : "interpreter",
            Vcpus = _vcpus.Length,
            VcpusStarted = _vcpus.Count(v => v.Cpu.InstructionsExecuted > 0),
            BlocksTranslated = all.Sum(t => t.BlocksTranslated),
            InstructionsTranslated = all.Sum(t => t.InstructionsTranslated),
            TranslationMs = all.Sum(t => t.TranslationTime.TotalMilliseconds),
            BlocksInvalidated = all.Sum(t => t.BlocksInvalidated),
            InstructionsRunTranslated = all.Sum(t => t.InstructionsRunTranslated),
            BlocksRun = all.Sum(t => t.BlocksRun),
        };
    }

    /// <summary>Ends the machine (first caller wins); the CPU stops at its next instruction boundary.</summary>
    public void RequestExit(ExitReason reason, int exitCode, long? guestValue, string? detail)
    {
        MachineExitInfo info = new()
        {
            Reason = reason,
            ExitCode = exitCode,
            GuestValue = guestValue,
            Instructions = InstructionsExecuted,
            Detail = detail,
        };
        Interlocked.CompareExchange(ref _exit, info, null);
        ConsoleInput?.Close();
        _mayRun.Set(); // a paused vCPU must see the end too
        SignalAll(); // and so must a running or halted one
        _isolated.ShutDown(); // a vCPU stalled on a dead device must see the stop
    }

    /// <summary>
    /// The launcher saw device process <paramref name="processKey"/> exit. Returns why this process killed it
    /// (crash injection, a hung handler), or null when it died on its own.
    /// </summary>
    public string? DeviceProcessExited(string processKey) => _isolated.ProcessExited(processKey);

    /// <summary>
    /// The launcher gave up restarting <paramref name="processKey"/>: waiting accesses end as bus errors, and the
    /// devices are unplugged or the machine halted as the profile says.
    /// </summary>
    public void GiveUpDeviceProcess(string processKey, GiveUpAction action, string why) => _isolated.GiveUp(processKey, action, why);

    /// <summary>Crashes of every device process and their recoveries.</summary>
    public IReadOnlyList<CrashRecord> CrashRecords() => _isolated.CrashRecords();

    /// <summary>Per-device access counters as this process saw them (the current incarnation for isolated devices).</summary>
    public IReadOnlyList<DeviceAccessStats> DeviceStats()
    {
        return [.. _inlineDevices.Values.Select(d => d.Stats(0)), .. _isolated.Stats()];
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _isolated.Dispose();
        Timers.Dispose();
        foreach (IDisposable device in _inlineDevices.Values.Select(d => d.Device).OfType<IDisposable>())
        {
            device.Dispose(); // a disk's image file
        }

        _ram.Dispose();
        _firmware?.Dispose();
        _mayRun.Dispose();
        _parked.Dispose();
        _applicationProcessorsMayRun.Dispose();
        foreach (Vcpu vcpu in _vcpus)
        {
            vcpu.Dispose();
        }

    }

    private void AddInlineDevice(DeviceConfig config)
    {
        InlineDeviceContext context = new(config, this, _output);
        IDevice device = Platform.PlatformDevices.TryCreate(config, this) ?? DeviceCatalog.Create(config, context);
        InlineDevice inline = new(config.Id, device);
        context.Owner = inline;
        _inlineDevices.Add(config.Id, inline);
        context.Handle = Devices.Plug(config.Id, device.Regions, inline);
    }
}
