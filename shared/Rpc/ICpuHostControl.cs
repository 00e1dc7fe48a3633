using PolyType;
using StreamJsonRpc;

namespace SplitEmu.Shared.Rpc;

/// <summary>Control endpoint of the CPU process, called by the launcher.</summary>
[JsonRpcContract, GenerateShape(IncludeMethods = MethodShapeFlags.PublicInstance)]
public partial interface ICpuHostControl
{
    /// <summary>Builds the machine (RAM, images, CPU state, inline devices). Returns the CPU process id.</summary>
    Task<int> ConfigureAsync(CpuHostSetup setup, CancellationToken cancellationToken = default);

    /// <summary>
    /// Guest RAM as bus-master device processes map it, with the DMA windows the CPU process grants; its memfd is
    /// passed to the launcher on the descriptor channel under the share's token.
    /// </summary>
    Task<GuestMemoryShare> GetGuestMemoryAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates the shared-memory segment for a device process, passes its memfd to the launcher on the descriptor
    /// channel and returns the token it was passed under.
    /// </summary>
    Task<ulong> CreateChannelAsync(ChannelRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// The device process has the segment mapped and serves <paramref name="binding"/>'s devices: map their
    /// regions to the ring and remove the segment's file name.
    /// </summary>
    Task BindChannelAsync(ChannelBinding binding, CancellationToken cancellationToken = default);

    /// <summary>Runs the guest until the machine ends; returns why it ended.</summary>
    Task<MachineExitInfo> RunAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Ends the machine from outside (signal, timeout, monitor): <see cref="RunAsync"/> returns with <paramref name="reason"/>
    /// and <paramref name="detail"/> (who asked, e.g. "stopped by Ctrl-C").
    /// </summary>
    Task RequestStopAsync(ExitReason reason, string detail, CancellationToken cancellationToken = default);

    /// <summary>
    /// The launcher saw a device process exit: complete its in-flight accesses with bus errors. Returns why the CPU
    /// process killed it ("killed as requested (crash injection)", a hung handler), or null if it did not.
    /// </summary>
    Task<string?> DeviceProcessExitedAsync(string processKey, CancellationToken cancellationToken = default);

    /// <summary>
    /// The launcher gave up restarting a device process: accesses waiting for it end as bus errors, and
    /// <paramref name="action"/> is applied (halt the machine, leave the devices faulted, or unplug them).
    /// </summary>
    Task GiveUpDeviceProcessAsync(string processKey, Profiles.GiveUpAction action, string reason, CancellationToken cancellationToken = default);

    /// <summary>Every crash of a device process and its recovery, as the CPU process saw them.</summary>
    Task<IReadOnlyList<CrashRecord>> GetCrashRecordsAsync(CancellationToken cancellationToken = default);

    /// <summary>Every device region with its state and live lease count.</summary>
    Task<IReadOnlyList<RegionReport>> GetRegionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Unplugs a device's regions; completes when they drained (see DeviceMap).</summary>
    Task UnplugDeviceAsync(string deviceId, CancellationToken cancellationToken = default);

    /// <summary>Maps an unplugged device's regions again.</summary>
    Task ReplugDeviceAsync(string deviceId, CancellationToken cancellationToken = default);

    /// <summary>Per-device counters as the CPU process saw them.</summary>
    Task<IReadOnlyList<DeviceAccessStats>> GetDeviceStatsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Pauses the vCPU at its next instruction boundary; completes when it is parked, or after
    /// <paramref name="parkTimeoutMs"/> if it is still inside an access (then the state is "pausing").
    /// </summary>
    Task<MonitorCpuState> PauseAsync(int parkTimeoutMs, CancellationToken cancellationToken = default);

    /// <summary>Lets a paused vCPU continue.</summary>
    Task<MonitorCpuState> ResumeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues <paramref name="data"/> (at most <see cref="ConsoleInputLimits.MaxChunkBytes"/> bytes) for the
    /// profile's console device, which the vCPU feeds between instructions as the device has room. Completes once
    /// all of it is queued, waiting while the queue is full. False when the machine has no console, or its console
    /// takes no input (the bytes are dropped: stop sending).
    /// </summary>
    Task<bool> ConsoleInputAsync(byte[] data, CancellationToken cancellationToken = default);

    /// <summary>The vCPU's state and instruction count right now.</summary>
    Task<MonitorCpuState> GetCpuStateAsync(CancellationToken cancellationToken = default);
}
