using Nerdbank.Streams;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using StreamJsonRpc;

namespace SplitEmu.DeviceHost.Hosting;

/// <summary>
/// Runs the control plane once over an in-memory connection before a spare reports ready: an attach request as
/// the launcher sends it, received, dispatched to a stand-in and answered, and a stop. The first call of a
/// JSON-RPC connection pays for compiling the dispatch and building the serializer's view of every message
/// type (most of a cold attach); a spare pays for it before the guest waits on it.
/// </summary>
public static class ControlPlaneRehearsal
{
    /// <summary>One attach and one stop, on the formatter and message types the real connection uses.</summary>
    public static async Task RunAsync()
    {
        (Stream launcherEnd, Stream deviceEnd) = FullDuplexStream.CreatePair();
        using JsonRpc device = RpcConnection.Create(deviceEnd);
        device.AddLocalRpcTarget(RpcTargetMetadata.FromShape<IDeviceHostControl>(), new StandIn(), null);
        device.StartListening();
        using JsonRpc launcher = RpcConnection.Create(launcherEnd);
        launcher.StartListening();
        DeviceHostAttachRequest request = new()
        {
            SegmentDescriptor = 1,
            Devices = [new DeviceConfig { Id = "rehearsal", Type = "uart16550", Io = 0x3F8, Irq = 4, Crash = new CrashConfig(), Config = new Dictionary<string, string> { ["k"] = "v" } }],
            ServingCore = 0,
            GuestMemory = new GuestMemoryShare { Descriptor = 2, Size = 1, Windows = [new DmaWindow(0, 1)] },
        };
        await launcher.InvokeWithCancellationAsync<DeviceHostAttachResult>(nameof(IDeviceHostControl.AttachAsync), [request], CancellationToken.None).ConfigureAwait(false);
        await launcher.InvokeWithCancellationAsync<DeviceHostStopResult>(nameof(IDeviceHostControl.StopAsync), [], CancellationToken.None).ConfigureAwait(false);
    }

    private sealed class StandIn : IDeviceHostControl
    {
        public Task<DeviceHostAttachResult> AttachAsync(DeviceHostAttachRequest request, CancellationToken cancellationToken = default) =>
            Task.FromResult(new DeviceHostAttachResult
            {
                ProcessId = Environment.ProcessId,
                Regions = [[new DeviceRegionInfo("rehearsal", AddressSpaceKind.Io, 0x3F8, 8, SynchronousOffsets: [0])]],
            });

        public Task<DeviceHostStopResult> StopAsync(CancellationToken cancellationToken = default) =>
            Task.FromResult(new DeviceHostStopResult { Devices = [new DeviceAccessStats { DeviceId = "rehearsal" }] });
    }
}
