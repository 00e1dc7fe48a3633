using SplitEmu.DeviceHost.Devices.Storage;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices;

/// <summary>
/// A device process drives only the interrupt lines the launcher granted it (its profile's irq and its type's
/// fixed lines): anything else is dropped in the CPU process. Real device process, real ring.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class IrqContainmentTests
{
    private const int PrimaryIrq = 14;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task IdeCommandCompletion_RaisesIrq14_OnlyWhenTheLineIsGranted(bool granted)
    {
        using TempFolder folder = new();
        string disk = folder.File("disk.img");
        File.WriteAllBytes(disk, new byte[64 * 1024]);
        DeviceConfig ide = new()
        {
            Id = "ide",
            Type = Piix3Ide.TypeName,
            Placement = Placement.Isolated,
            Config = new Dictionary<string, string> { ["primary-master"] = disk },
        };
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(
            IsolatedDeviceHarness.Profile(ide), [granted ? [PrimaryIrq, 15] : [15]]);

        // READ SECTORS, LBA 1: the drive completes at once and asserts INTRQ (nIEN clear).
        harness.Machine.Bus.WritePort(0x1F6, 1, 0xE0);
        harness.Machine.Bus.WritePort(0x1F2, 1, 1);
        harness.Machine.Bus.WritePort(0x1F3, 1, 1);
        harness.Machine.Bus.WritePort(0x1F4, 1, 0);
        harness.Machine.Bus.WritePort(0x1F5, 1, 0);
        harness.Machine.Bus.WritePort(0x1F7, 1, 0x20);
        uint alternateStatus = harness.Machine.Bus.ReadPort(0x3F6, 1); // synchronous: every posted write is handled
        Assert.Equal(0x08u, alternateStatus & 0x89); // DRQ, no BSY, no ERR

        bool raised = ProcessTable.WaitUntil(() => (harness.Machine.Interrupts.Levels & (1 << PrimaryIrq)) != 0, TestDeadlines.Seconds(granted ? 10 : 0.5));

        Assert.Equal(granted, raised);
    }
}
