using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Shared.Rpc;

/// <summary>Which address space a region lives in.</summary>
public enum AddressSpaceKind
{
    /// <summary>Guest-physical memory (MMIO).</summary>
    Memory,

    /// <summary>The x86 I/O port space.</summary>
    Io,

    /// <summary>
    /// PCI configuration space, reached through the host bridge (ports 0xCF8/0xCFC). Address of function
    /// bus:device.function, register r = <c>bus &lt;&lt; 16 | device &lt;&lt; 11 | function &lt;&lt; 8 | r</c>
    /// (<see cref="PciConfigAddress"/>); a function's region is 256 bytes at register 0.
    /// </summary>
    PciConfig,
}

/// <summary>A region a device occupies.</summary>
/// <param name="Name">Short name for the monitor, e.g. "regs".</param>
/// <param name="Space">The address space.</param>
/// <param name="Base">Guest address (port number for I/O).</param>
/// <param name="Size">Bytes (ports for I/O).</param>
/// <param name="PostedWrites">Writes need no reply (posted): the guest goes on at once; a later read still sees them handled.</param>
/// <param name="SynchronousOffsets">With <paramref name="PostedWrites"/>: registers whose writes still wait for the device
/// (ones whose effect the next instruction must see: a map change, an interrupt mask).</param>
/// <param name="StartsDisabled">The region is plugged hidden; the device shows it when the guest enables it (a PCI BAR
/// whose decoding is off until the guest programs it).</param>
/// <param name="MinAccessSize">The narrowest access (bytes: 1, 2, 4 or 8) the device's handler takes for this region. The
/// CPU process widens a narrower guest access to this size, naturally aligned, and hands back only the guest's bytes
/// (a write carries zeros in the others; it is never a read-modify-write). Default 1: every size as it comes.</param>
/// <param name="MaxAccessSize">The widest access the handler takes. The CPU process splits a wider guest access into
/// accesses of this size in address order (as an ISA bus splits a 16-bit IN into two byte reads of consecutive ports)
/// and assembles a read little-endian. Default 8. See docs/memory-map.md, "Access sizes".</param>
public sealed record DeviceRegionInfo(string Name, AddressSpaceKind Space, ulong Base, ulong Size, bool PostedWrites = false, IReadOnlyList<ulong>? SynchronousOffsets = null, bool StartsDisabled = false, int MinAccessSize = 1, int MaxAccessSize = 8);

/// <summary>Everything the CPU process needs to build the machine.</summary>
public sealed record CpuHostSetup
{
    /// <summary>The validated profile; image paths in <see cref="MachineProfile.Load"/> are absolute.</summary>
    public required MachineProfile Profile { get; init; }

    /// <summary>Prefix for the names of this machine's shared memory (seen in /proc maps), unique to this launcher.</summary>
    public required string ShmPrefix { get; init; }
}

/// <summary>Asks the CPU process for a device process's segment.</summary>
public sealed record ChannelRequest
{
    /// <summary>Name of the device process (the device id, or the group name).</summary>
    public required string ProcessKey { get; init; }

    /// <summary>Incarnation of the device process (0 first, +1 per restart).</summary>
    public uint Epoch { get; init; }
}

/// <summary>Tells the CPU process which devices a device process serves over its segment.</summary>
public sealed record ChannelBinding
{
    /// <summary>Name of the device process.</summary>
    public required string ProcessKey { get; init; }

    /// <summary>Process id of the device process, as the launcher started it (trusted, unlike the segment).</summary>
    public required int ProcessId { get; init; }

    /// <summary>Ids of the devices, in the process's device order.</summary>
    public required IReadOnlyList<string> DeviceIds { get; init; }

    /// <summary>Each device's regions, parallel to <see cref="DeviceIds"/>.</summary>
    public required IReadOnlyList<IReadOnlyList<DeviceRegionInfo>> Regions { get; init; }

    /// <summary>
    /// The interrupt lines each device may drive (its profile's irq and its type's fixed lines), parallel to
    /// <see cref="DeviceIds"/>; null lets the devices drive any line (test harnesses).
    /// </summary>
    public IReadOnlyList<IReadOnlyList<int>>? IrqLines { get; init; }

    /// <summary>
    /// What else each device may ask of the machine, parallel to <see cref="DeviceIds"/>; null grants everything
    /// (test harnesses). The launcher derives it from the device types, never from the device process.
    /// </summary>
    public IReadOnlyList<DeviceEventGrant>? EventGrants { get; init; }
}

/// <summary>The events beyond interrupt lines and its own map changes that one device may raise.</summary>
/// <param name="EndsMachine">It may end the machine (debug-exit, the keyboard controller's reset).</param>
/// <param name="BusMaster">It writes guest RAM by DMA, so it may tell the CPU that code there changed.</param>
public sealed record DeviceEventGrant(bool EndsMachine, bool BusMaster);

/// <summary>Asks a device process to serve devices over a segment.</summary>
public sealed record DeviceHostAttachRequest
{
    /// <summary>
    /// The token under which the launcher passed the segment's memfd on the descriptor channel
    /// (<see cref="DescriptorChannel"/>); unused with <see cref="SocketPath"/>.
    /// </summary>
    public required ulong SegmentDescriptor { get; init; }

    /// <summary>The devices to serve, in order (their index is the ring's device number).</summary>
    public required IReadOnlyList<DeviceConfig> Devices { get; init; }

    /// <summary>How the serving thread waits for requests.</summary>
    public WaitPolicy WaitPolicy { get; init; } = WaitPolicy.Handoff;

    /// <summary>Spin budget for <see cref="WaitPolicy.Hybrid"/>.</summary>
    public int SpinBudget { get; init; } = ProfileDefaults.HybridSpinBudget;

    /// <summary>
    /// When set, serve over the socket transport instead of the segment: connect to the CPU side's listener at
    /// this path (<see cref="SplitEmu.Shared.Transport.SocketTransportListener"/>); <see cref="SegmentDescriptor"/> is ignored.
    /// </summary>
    public string? SocketPath { get; init; }

    /// <summary>Core to pin the serving thread to, or null to let the scheduler place it.</summary>
    public int? ServingCore { get; init; }

    /// <summary>Test-only fault injection into the data plane.</summary>
    public SplitEmu.Shared.Transport.TransportFault InjectFault { get; init; }

    /// <summary>Bytes of guest RAM (what CMOS and fw_cfg report).</summary>
    public ulong RamBytes { get; init; }

    /// <summary>vCPUs of the machine (what CMOS byte 0x5F and fw_cfg's CPU count report; firmware waits for that many).</summary>
    public int CpuCount { get; init; } = 1;

    /// <summary>Guest memory for bus-master devices, with the windows they may reach; null for a process without DMA.</summary>
    public GuestMemoryShare? GuestMemory { get; init; }

    /// <summary>
    /// The process's bus masters reach guest RAM through <see cref="IRemoteDma"/> calls on the control connection
    /// instead of a mapping (a device on another host: its bridge holds the mapping and checks the windows).
    /// </summary>
    public bool DmaOverControl { get; init; }
}

/// <summary>The CPU process's guest RAM as device processes map it for DMA.</summary>
public sealed record GuestMemoryShare
{
    /// <summary>
    /// The token under which its memfd was passed on the descriptor channel (<see cref="DescriptorChannel"/>):
    /// from the CPU process to the launcher, then under a new token from the launcher to a bus-master device.
    /// </summary>
    public required ulong Descriptor { get; init; }

    /// <summary>Bytes of the shared memory (guest-physical 0 up).</summary>
    public required ulong Size { get; init; }

    /// <summary>The ranges DMA may touch; anything else is refused.</summary>
    public required IReadOnlyList<DmaWindow> Windows { get; init; }
}

/// <summary>What a device process serves.</summary>
public sealed record DeviceHostAttachResult
{
    /// <summary>The device process's id.</summary>
    public required int ProcessId { get; init; }

    /// <summary>Each device's regions, in request order.</summary>
    public required IReadOnlyList<IReadOnlyList<DeviceRegionInfo>> Regions { get; init; }
}

/// <summary>Counters of a stopped device process.</summary>
public sealed record DeviceHostStopResult
{
    /// <summary>Per device, in attach order.</summary>
    public required IReadOnlyList<DeviceAccessStats> Devices { get; init; }
}

/// <summary>Accesses to one device.</summary>
public sealed record DeviceAccessStats
{
    /// <summary>The device id.</summary>
    public required string DeviceId { get; init; }

    /// <summary>Reads served (or dispatched, when counted by the CPU process).</summary>
    public long Reads { get; init; }

    /// <summary>Writes served (or dispatched).</summary>
    public long Writes { get; init; }

    /// <summary>Accesses that completed with a bus error (device down, timed out or broken).</summary>
    public long BusErrors { get; init; }

    /// <summary>Bytes emitted on the device's output stream.</summary>
    public long OutputBytes { get; init; }

    /// <summary>Accesses that reached the device after it was told their region is gone: a broken invariant, must be 0.</summary>
    public long AccessesAfterGone { get; init; }
}

/// <summary>Why a machine ended.</summary>
public enum ExitReason
{
    /// <summary>The guest wrote to the debug-exit device.</summary>
    GuestExit,

    /// <summary>The CPU shut down (triple fault).</summary>
    CpuShutdown,

    /// <summary>The CPU halted with interrupts disabled: nothing can wake it.</summary>
    Halted,

    /// <summary>Stopped from outside: signal, monitor or Ctrl-C.</summary>
    Stopped,

    /// <summary>The run's time limit passed.</summary>
    Timeout,

    /// <summary>A device failed and its policy says to halt the machine.</summary>
    DeviceFailure,
}

/// <summary>How a machine ended.</summary>
public sealed record MachineExitInfo
{
    /// <summary>Why.</summary>
    public required ExitReason Reason { get; init; }

    /// <summary>Value the guest wrote to the debug-exit device, if that is why.</summary>
    public long? GuestValue { get; init; }

    /// <summary>Process exit code for this end.</summary>
    public required int ExitCode { get; init; }

    /// <summary>Guest instructions executed.</summary>
    public required long Instructions { get; init; }

    /// <summary>Human-readable detail (which device failed, the fault).</summary>
    public string? Detail { get; init; }

    /// <summary>How the vCPU ran the guest, or null when the machine ended before it was built.</summary>
    public CpuExecutionReport? Cpu { get; init; }
}

/// <summary>How the vCPUs ran the guest: the mode, and what the translator did (zeros for the interpreter), summed over all vCPUs.</summary>
public sealed record CpuExecutionReport
{
    /// <summary>"translator" or "interpreter".</summary>
    public required string Execution { get; init; }

    /// <summary>vCPUs the machine had (<c>cpu.count</c>).</summary>
    public int Vcpus { get; init; } = 1;

    /// <summary>vCPUs that ran guest code: the bootstrap processor and every application processor a start-up IPI started.</summary>
    public int VcpusStarted { get; init; } = 1;

    /// <summary>Blocks compiled to host code.</summary>
    public long BlocksTranslated { get; init; }

    /// <summary>Guest instructions in those blocks.</summary>
    public long InstructionsTranslated { get; init; }

    /// <summary>Milliseconds spent forming and compiling blocks.</summary>
    public double TranslationMs { get; init; }

    /// <summary>Blocks dropped because their code was written or the memory map changed.</summary>
    public long BlocksInvalidated { get; init; }

    /// <summary>Guest instructions retired inside translated blocks (the rest were interpreted).</summary>
    public long InstructionsRunTranslated { get; init; }

    /// <summary>Entries into translated blocks: <see cref="InstructionsRunTranslated"/> over this is the average run.</summary>
    public long BlocksRun { get; init; }
}

/// <summary>One region as the monitor shows it.</summary>
/// <param name="Space">"memory" or "io".</param>
/// <param name="Base">Guest address (port for I/O).</param>
/// <param name="Size">Bytes (ports).</param>
/// <param name="Name">Region name.</param>
/// <param name="Owner">Owning device id, or null for machine regions (RAM, ROM).</param>
/// <param name="Kind">"ram", "rom" or "device".</param>
/// <param name="State">"mapped", "disabled", "draining" (removed, leases still held) or "removed".</param>
/// <param name="Leases">Accesses in flight right now.</param>
public sealed record RegionReport(string Space, ulong Base, ulong Size, string Name, string? Owner, string Kind, string State, int Leases);

/// <summary>One crash of a device process and its recovery, as the CPU process saw it. Times are monotonic
/// Stopwatch timestamps (CLOCK_MONOTONIC, the same clock in every process of the machine).</summary>
public sealed record CrashRecord
{
    /// <summary>The device process.</summary>
    public required string ProcessKey { get; init; }

    /// <summary>Incarnation that died (0 = first).</summary>
    public uint Epoch { get; init; }

    /// <summary>Why it was declared dead.</summary>
    public required string Reason { get; init; }

    /// <summary>When the CPU process killed it (injected or hung), or 0 if it died by itself.</summary>
    public long KilledAt { get; init; }

    /// <summary>When the CPU process knew it was dead.</summary>
    public long DetectedAt { get; init; }

    /// <summary>When the new incarnation was restored and the guest could continue (0: never).</summary>
    public long RestoredAt { get; set; }

    /// <summary>When the new incarnation's process was bound (restore started).</summary>
    public long RestoreStartedAt { get; set; }

    /// <summary>Journaled accesses replayed into the new incarnation.</summary>
    public int Replayed { get; set; }

    /// <summary>Replayed reads that answered differently than the first time (a non-deterministic device).</summary>
    public int Divergences { get; set; }

    /// <summary>Devices that could not be restored and were reset instead.</summary>
    public List<string> ResetDevices { get; init; } = [];

    /// <summary>Accesses that ended as bus errors because of this crash (0 under stall).</summary>
    public long BusErrors { get; set; }
}

/// <summary>A range of guest RAM a device may reach by DMA (guest-physical start = offset in the shared memory).</summary>
/// <param name="Start">First byte.</param>
/// <param name="Length">Bytes.</param>
public sealed record DmaWindow(ulong Start, ulong Length);
