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

    private IsolatedDeviceHarness(TempFolder folder, VirtualMachine machine, ChildProcess device, IDeviceHostControl control)
    {
        _folder = folder;
        Machine = machine;
        DeviceProcess = device;
        Control = control;
    }

    /// <summary>The machine.</summary>
    public VirtualMachine Machine { get; }

    /// <summary>The device process.</summary>
    public ChildProcess DeviceProcess { get; }

    /// <summary>Its control endpoint.</summary>
    public IDeviceHostControl Control { get; }

    /// <summary>Builds a machine with the profile's devices; the isolated ones get one device process (group "harness").</summary>
    /// <param name="profile">The machine.</param>
    /// <param name="irqLines">Lines each isolated device may drive, as the launcher would grant them (null: any).</param>
    /// <param name="eventGrants">What else each isolated device may ask, as the launcher would grant it (null: anything).</param>
    /// <param name="sandboxed">Start the device process in the device sandbox, as a strict profile does.</param>
    public static async Task<IsolatedDeviceHarness> StartAsync(MachineProfile profile, IReadOnlyList<IReadOnlyList<int>>? irqLines = null, IReadOnlyList<DeviceEventGrant>? eventGrants = null, bool sandboxed = false)
    {
        TempFolder folder = new();
        VirtualMachine? machine = null;
        ChildProcess? child = null;
        try
        {
            machine = new VirtualMachine(profile, $"splitemu-{Environment.ProcessId}-h{Guid.NewGuid():N}", new DiscardOutput());
            DeviceConfig[] isolated = profile.Devices.Where(d => d.Placement != Placement.Inline).ToArray();
            string key = DevicePlacement.ProcessKey(isolated[0])!;
            int segment = machine.CreateChannel(key, 0);
            child = await ChildProcess.StartAsync(HostExecutables.DeviceHost, key, folder.Path, new ConsoleRouter(null, Stream.Null), TextWriter.Null, CancellationToken.None, sandboxed ? [DeviceSandbox.Flag] : []);
            IDeviceHostControl control = child.Rpc.Attach<IDeviceHostControl>();
            DeviceHostAttachResult attached = await control.AttachAsync(new DeviceHostAttachRequest
            {
                SegmentDescriptor = child.Descriptors.Send(segment),
                Devices = isolated,
                WaitPolicy = isolated[0].WaitPolicy,
            });
            machine.BindChannel(new ChannelBinding
            {
                ProcessKey = key,
                ProcessId = child.ProcessId,
                DeviceIds = isolated.Select(d => d.Id).ToArray(),
                Regions = attached.Regions,
                IrqLines = irqLines,
                EventGrants = eventGrants,
            });
            return new IsolatedDeviceHarness(folder, machine, child, control);
        }
        catch
        {
            machine?.Dispose();
            if (child is not null)
            {
                await child.DisposeAsync();
            }

            folder.Dispose();
            throw;
        }
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
        await DeviceProcess.DisposeAsync();
        _folder.Dispose();
    }
}
