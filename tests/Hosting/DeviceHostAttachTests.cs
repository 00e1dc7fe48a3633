using SplitEmu.CpuHost.Machine;
using SplitEmu.DeviceHost.Devices.Storage;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;
using StreamJsonRpc;

namespace SplitEmu.Tests.Hosting;

/// <summary>
/// A device process whose model refuses its configuration fails the attach and keeps nothing of it: the same
/// process can be attached again, and then serves. Real device process, real ring.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class DeviceHostAttachTests
{
    [Fact]
    public async Task FailedAttach_LeavesNothingAttached_SoASecondAttachServes()
    {
        using TempFolder folder = new();
        string disk = folder.File("disk.img");
        File.WriteAllBytes(disk, new byte[64 * 1024]);
        DeviceConfig Ide(string image) => new()
        {
            Id = "ide",
            Type = Piix3Ide.TypeName,
            Placement = Placement.Isolated,
            Config = new Dictionary<string, string> { ["primary-master"] = image },
        };
        MachineProfile profile = IsolatedDeviceHarness.Profile(Ide(disk));
        using VirtualMachine machine = new(profile, $"splitemu-{Environment.ProcessId}-a{Guid.NewGuid():N}", new DiscardOutput());
        string key = DevicePlacement.ProcessKey(profile.Devices[0])!;
        int segment = machine.CreateChannel(key, 0);
        await using ChildProcess child = await ChildProcess.StartAsync(HostExecutables.DeviceHost, key, folder.Path, new ConsoleRouter(null, Stream.Null), TextWriter.Null, CancellationToken.None);
        IDeviceHostControl control = child.Rpc.Attach<IDeviceHostControl>();

        RemoteInvocationException refused = await Assert.ThrowsAsync<RemoteInvocationException>(() => control.AttachAsync(new DeviceHostAttachRequest
        {
            SegmentDescriptor = child.Descriptors.Send(segment),
            Devices = [Ide(folder.File("no-such-disk.img"))],
        }));
        DeviceHostAttachResult attached = await control.AttachAsync(new DeviceHostAttachRequest { SegmentDescriptor = child.Descriptors.Send(segment), Devices = [Ide(disk)] });
        machine.BindChannel(new ChannelBinding { ProcessKey = key, ProcessId = child.ProcessId, DeviceIds = ["ide"], Regions = attached.Regions });
        uint status = machine.Bus.ReadPort(0x1F7, 1);

        Assert.Contains("no-such-disk.img", refused.Message, StringComparison.Ordinal);
        Assert.Equal(child.ProcessId, attached.ProcessId);
        Assert.Equal(0x50u, status & 0xD9); // the drive answers: ready, seek complete, not busy, no error
    }
}
