using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Memory;

/// <summary>Writes to a region that declares them posted, through dispatch, to a real device process.</summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class PostedWriteDispatchTests
{
    private const ushort Base = 0x510;

    [Theory]
    [InlineData(WaitPolicy.Handoff)]
    [InlineData(WaitPolicy.Hybrid)]
    public async Task ReadAfterPostedWrites_SeesEveryOneOfThemHandled(WaitPolicy policy)
    {
        const int Writes = 5_000; // many batches of 16, and more than the 256-slot ring holds at once
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(
            new DeviceConfig { Id = "dev", Type = TestDevice.TypeName, Io = Base, Placement = Placement.Isolated, WaitPolicy = policy }));

        for (int i = 0; i < Writes; i++)
        {
            harness.Machine.Bus.WritePort(Base + (ushort)TestDevice.CounterRegister, 4, 1);
        }

        uint counted = harness.Machine.Bus.ReadPort(Base + (ushort)TestDevice.CounterRegister, 4);

        // The device counts every access it handled, this read included.
        Assert.Equal(Writes + 1u, counted);
    }
}
