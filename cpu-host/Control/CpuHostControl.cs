using SplitEmu.CpuHost.Machine;
using SplitEmu.DeviceHost.Common;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.CpuHost.Control;

/// <summary>The CPU process's control endpoint (see <see cref="ICpuHostControl"/>).</summary>
public sealed class CpuHostControl(OutputForwarder output, DescriptorChannel descriptors) : ICpuHostControl, IDisposable
{
    /// <summary>How long shutdown waits for the vCPU thread before it frees the machine anyway.</summary>
    private static readonly TimeSpan s_runStopTimeout = TimeSpan.FromSeconds(2);

    private VirtualMachine? _machine;
    private Task<MachineExitInfo>? _run;

    private VirtualMachine Machine => _machine ?? throw new InvalidOperationException("the machine is not configured yet: call ConfigureAsync first");

    /// <inheritdoc/>
    public Task<int> ConfigureAsync(CpuHostSetup setup, CancellationToken cancellationToken = default)
    {
        if (_machine is not null)
        {
            throw new InvalidOperationException("the machine is already configured");
        }

        _machine = new VirtualMachine(setup.Profile, setup.ShmPrefix, output);
        return Task.FromResult(Environment.ProcessId);
    }

    /// <inheritdoc/>
    public Task<GuestMemoryShare> GetGuestMemoryAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Machine.GuestMemoryShare(descriptors.Send(Machine.GuestMemoryDescriptor)));

    /// <inheritdoc/>
    public Task<ulong> CreateChannelAsync(ChannelRequest request, CancellationToken cancellationToken = default) =>
        Task.FromResult(descriptors.Send(Machine.CreateChannel(request.ProcessKey, request.Epoch)));

    /// <inheritdoc/>
    public Task BindChannelAsync(ChannelBinding binding, CancellationToken cancellationToken = default)
    {
        Machine.BindChannel(binding);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task<MachineExitInfo> RunAsync(CancellationToken cancellationToken = default)
    {
        VirtualMachine machine = Machine;
        if (_run is not null)
        {
            throw new InvalidOperationException("the machine is already running");
        }

        _run = Task.Factory.StartNew(
            () => machine.Run(cancellationToken),
            cancellationToken: CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        MachineExitInfo exit = await _run.ConfigureAwait(false);
        await output.FlushAsync().ConfigureAwait(false);
        return exit;
    }

    /// <inheritdoc/>
    public Task RequestStopAsync(ExitReason reason, string detail, CancellationToken cancellationToken = default)
    {
        int code = reason == ExitReason.Timeout ? ExitCodes.Timeout : ExitCodes.Interrupted;
        Machine.RequestExit(reason, code, null, detail);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<string?> DeviceProcessExitedAsync(string processKey, CancellationToken cancellationToken = default) =>
        Task.FromResult(Machine.DeviceProcessExited(processKey));

    /// <inheritdoc/>
    public Task GiveUpDeviceProcessAsync(string processKey, Shared.Profiles.GiveUpAction action, string reason, CancellationToken cancellationToken = default)
    {
        Machine.GiveUpDeviceProcess(processKey, action, reason);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<CrashRecord>> GetCrashRecordsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Machine.CrashRecords());

    /// <inheritdoc/>
    public Task<IReadOnlyList<RegionReport>> GetRegionsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Machine.Devices.Describe());

    /// <inheritdoc/>
    public Task UnplugDeviceAsync(string deviceId, CancellationToken cancellationToken = default) =>
        Machine.Devices.UnplugAsync(deviceId, CpuHost.Machine.DeviceMap.DefaultDrainDeadline);

    /// <inheritdoc/>
    public Task ReplugDeviceAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        Machine.Devices.Replug(deviceId);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<DeviceAccessStats>> GetDeviceStatsAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<DeviceAccessStats> stats = Machine.DeviceStats()
            .Select(s => s with { OutputBytes = Math.Max(s.OutputBytes, output.TotalBytes(s.DeviceId)) })
            .ToArray();
        return Task.FromResult(stats);
    }

    /// <inheritdoc/>
    public async Task<MonitorCpuState> PauseAsync(int parkTimeoutMs, CancellationToken cancellationToken = default)
    {
        VirtualMachine machine = Machine;
        machine.Pause();
        if (_run is not null)
        {
            // Only a running vCPU thread can park; before RunAsync the pause simply holds the start.
            await Task.Run(() => machine.WaitParked(TimeSpan.FromMilliseconds(Math.Clamp(parkTimeoutMs, 0, 60_000))), cancellationToken).ConfigureAwait(false);
        }

        return CpuState(machine);
    }

    /// <inheritdoc/>
    public Task<MonitorCpuState> ResumeAsync(CancellationToken cancellationToken = default)
    {
        Machine.Resume();
        return Task.FromResult(CpuState(Machine));
    }

    /// <inheritdoc/>
    public Task<bool> ConsoleInputAsync(byte[] data, CancellationToken cancellationToken = default) =>
        Machine.ConsoleInput is { } input ? input.EnqueueAsync(data, cancellationToken) : Task.FromResult(false);

    /// <inheritdoc/>
    public Task<MonitorCpuState> GetCpuStateAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(CpuState(Machine));

    private static MonitorCpuState CpuState(VirtualMachine machine) => new()
    {
        State = machine.Exit is not null ? "stopped" : machine.IsParked ? "paused" : machine.IsPaused ? "pausing" : "running",
        Instructions = machine.InstructionsExecuted,
        Vcpus = machine.DescribeVcpus(),
    };

    /// <summary>Stops the vCPU (if running) before the machine's memory is freed.</summary>
    public void Dispose()
    {
        if (_machine is null)
        {
            return;
        }

        _machine.RequestExit(ExitReason.Stopped, ExitCodes.Interrupted, null, "control connection closed");
        if (_run is null || _run.Wait(s_runStopTimeout))
        {
            _machine.Dispose();
        }
    }
}
