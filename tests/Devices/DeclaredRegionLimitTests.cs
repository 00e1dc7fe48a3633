using SplitEmu.CpuHost.Machine;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices;

/// <summary>
/// The regions a device process declares when it attaches are untrusted: the CPU process refuses a declaration
/// with the wrong number of device lists or too many regions, with a reason, before mapping anything.
/// </summary>
public sealed class DeclaredRegionLimitTests
{
    private static readonly DeviceConfig s_device = new() { Id = "dev", Type = "testdev", Io = 0x510, Placement = Placement.Isolated };

    private static VirtualMachine NewMachine() => new(new MachineProfile { Name = "limits", Memory = new MemoryConfig { SizeMiB = 2 }, Devices = [s_device] },
        $"splitemu-{Environment.ProcessId}-limits-{Guid.NewGuid():N}", new DiscardOutput());

    private static DeviceRegionInfo Region(int i) => new($"r{i}", AddressSpaceKind.Io, 0x510 + (ulong)i, 1);

    [Theory]
    [InlineData(0, 0, "declared regions for 0 devices; it serves 1")]
    [InlineData(2, 1, "declared regions for 2 devices; it serves 1")]
    [InlineData(1, ProfileDefaults.MaxRegionsPerDevice + 1, "declared 65 regions; expected at most 64")]
    public void MalformedDeclaration_IsRefusedWithItsReason(int lists, int regionsEach, string expected)
    {
        using VirtualMachine machine = NewMachine();
        string key = DevicePlacement.ProcessKey(s_device)!;
        machine.CreateChannel(key, 0);
        IReadOnlyList<DeviceRegionInfo>[] regions = Enumerable.Range(0, lists)
            .Select(_ => (IReadOnlyList<DeviceRegionInfo>)Enumerable.Range(0, regionsEach).Select(Region).ToArray()).ToArray();

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => machine.BindChannel(new ChannelBinding
        {
            ProcessKey = key,
            ProcessId = Environment.ProcessId,
            DeviceIds = ["dev"],
            Regions = regions,
        }));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Empty(machine.Devices.Describe());
    }
}
