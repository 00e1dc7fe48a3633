using SplitEmu.CpuHost.Machine;
using SplitEmu.DeviceHost.Hosting.Sandbox;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// A machine built in the test process (the test plays the CPU process and can call dispatch from any thread)
/// with its isolated devices served by a real SplitEmu.DeviceHost process over a real ring. Disposing stops the
/// process and frees the segment, also when the test failed.
/// </summary>
public sealed class IsolatedDeviceHarness : IAsyncDisposable
{
    private readonly TempFolder _folder;
    private readonly string _key;
    private readonly DeviceConfig[] _isolated;
    private readonly IReadOnlyList<IReadOnlyList<int>>? _irqLines;
    private readonly IReadOnlyList<DeviceEventGrant>? _eventGrants;
    private readonly bool _sandboxed;
    private readonly ILaunchCallbacks _launcher;
    private uint _epoch;

    private IsolatedDeviceHarness(TempFolder folder, VirtualMachine machine, string key, DeviceConfig[] isolated, IReadOnlyList<IReadOnlyList<int>>? irqLines, IReadOnlyList<DeviceEventGrant>? eventGrants, bool sandboxed, ILaunchCallbacks? launcher)
    {
        _launcher = launcher ?? new ConsoleRouter(null, Stream.Null);
        _folder = folder;
        Machine = machine;
        _key = key;
        _isolated = isolated;
        _irqLines = irqLines;
        _eventGrants = eventGrants;
        _sandboxed = sandboxed;
    }

    /// <summary>The machine.</summary>
    public VirtualMachine Machine { get; }

    /// <summary>The device process (its current incarnation).</summary>
    public ChildProcess DeviceProcess { get; private set; } = null!;

    /// <summary>Its control endpoint.</summary>
    public IDeviceHostControl Control { get; private set; } = null!;

    /// <summary>Builds a machine with the profile's devices; the isolated ones get one device process (group "harness").</summary>
    /// <param name="profile">The machine.</param>
    /// <param name="irqLines">Lines each isolated device may drive, as the launcher would grant them (null: any).</param>
    /// <param name="eventGrants">What else each isolated device may ask, as the launcher would grant it (null: anything).</param>
    /// <param name="sandboxed">Start the device process in the device sandbox, as a strict profile does.</param>
    /// <param name="launcher">The launcher's side of every incarnation's calls (its output); null: output is taken and dropped.</param>
    public static async Task<IsolatedDeviceHarness> StartAsync(MachineProfile profile, IReadOnlyList<IReadOnlyList<int>>? irqLines = null, IReadOnlyList<DeviceEventGrant>? eventGrants = null, bool sandboxed = false, ILaunchCallbacks? launcher = null)
    {
        TempFolder folder = new();
        VirtualMachine machine = new(profile, $"splitemu-{Environment.ProcessId}-h{Guid.NewGuid():N}", new DiscardOutput());
        DeviceConfig[] isolated = profile.Devices.Where(d => d.Placement != Placement.Inline).ToArray();
        IsolatedDeviceHarness harness = new(folder, machine, DevicePlacement.ProcessKey(isolated[0])!, isolated, irqLines, eventGrants, sandboxed, launcher);
        try
        {
            await harness.StartIncarnationAsync();
            return harness;
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Kills the device process and starts its successor the way the launcher does after a crash: the machine learns of
    /// the death, a new segment, a new process attached, and the bind that restores the devices (snapshot and journal).
    /// </summary>
    public async Task RestartAsync()
    {
        ChildProcess dead = DeviceProcess;
        dead.Process.Kill();
        await dead.Process.WaitForExitAsync().WaitAsync(TestDeadlines.Seconds(30));
        Machine.DeviceProcessExited(_key);
        await dead.DisposeAsync();
        _epoch++;
        await StartIncarnationAsync();
    }

    private async Task StartIncarnationAsync()
    {
        int segment = Machine.CreateChannel(_key, _epoch);
        DeviceProcess = await ChildProcess.StartAsync(HostExecutables.DeviceHost, _key, _folder.Path, _launcher, TextWriter.Null, CancellationToken.None, _sandboxed ? [DeviceSandbox.Flag] : []);
        Control = DeviceProcess.Rpc.Attach<IDeviceHostControl>();
        DeviceHostAttachResult attached = await Control.AttachAsync(new DeviceHostAttachRequest
        {
            SegmentDescriptor = DeviceProcess.Descriptors.Send(segment),
            Devices = _isolated,
            WaitPolicy = _isolated[0].WaitPolicy,
        });
        Machine.BindChannel(new ChannelBinding
        {
            ProcessKey = _key,
            ProcessId = DeviceProcess.ProcessId,
            DeviceIds = _isolated.Select(d => d.Id).ToArray(),
            Regions = attached.Regions,
            IrqLines = _irqLines,
            EventGrants = _eventGrants,
        });
    }

    /// <summary>A one-device profile: <paramref name="device"/> isolated, plus inline <paramref name="others"/>.</summary>
    public static MachineProfile Profile(DeviceConfig device, params DeviceConfig[] others) => new()
    {
        Name = "harness",
        Memory = new MemoryConfig { SizeMiB = 2 },
        Devices = [device, .. others],
    };

    /// <summary>The device process's own counters (stops it serving).</summary>
    public async Task<DeviceAccessStats> StopDeviceAsync(string deviceId) =>
        (await Control.StopAsync()).Devices.Single(d => d.DeviceId == deviceId);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        Machine.Dispose();
        if (DeviceProcess is not null)
        {
            await DeviceProcess.DisposeAsync();
        }

        _folder.Dispose();
    }
}
