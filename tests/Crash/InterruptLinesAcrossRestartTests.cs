using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.Shared.Profiles;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Crash;

/// <summary>
/// An interrupt line is the device's state, not its process's: across a crash and restore the line a device holds
/// stays asserted without dropping (a level-triggered line would lose its interrupt, an edge-triggered one would get
/// a second edge the device never made), and a line it let go is low. Real device process, real ring, real kill.
/// </summary>
[Trait("Category", "Slow")] // starts processes
public sealed class InterruptLinesAcrossRestartTests
{
    private const int Line = 5;
    private const ushort Port = 0x520;

    /// <summary>With a snapshot after every access the level comes from the snapshot; with none, from the replayed journal.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(256)]
    public async Task ALineTheDeviceHolds_StaysAsserted_WithoutAnEdge_AndOneItLetGo_IsLow(int snapshotEvery)
    {
        DeviceConfig testdev = new() { Id = "dev", Type = TestDevice.TypeName, Io = Port, Irq = Line, Placement = Placement.Isolated, SnapshotEvery = snapshotEvery };
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(testdev), [[Line]]);

        await WriteAsync(harness, TestDevice.RaiseIrq);
        Assert.True(ProcessTable.WaitUntil(() => (harness.Machine.Interrupts.Levels & (1 << Line)) != 0, TestDeadlines.Seconds(10)), "the device did not raise its line");
        long transitionsBefore = harness.Machine.Interrupts.Transitions;

        await harness.RestartAsync();
        bool heldAfterRestart = (harness.Machine.Interrupts.Levels & (1 << Line)) != 0;
        long transitionsAcrossRestart = harness.Machine.Interrupts.Transitions - transitionsBefore;

        await WriteAsync(harness, TestDevice.LowerIrq);
        Assert.True(ProcessTable.WaitUntil(() => (harness.Machine.Interrupts.Levels & (1 << Line)) == 0, TestDeadlines.Seconds(10)), "the restored device did not lower its line");
        await harness.RestartAsync();
        bool lowAfterSecondRestart = (harness.Machine.Interrupts.Levels & (1 << Line)) == 0;

        Assert.True(heldAfterRestart, "the line the device holds went low across its restart");
        Assert.Equal(0, transitionsAcrossRestart);
        Assert.True(lowAfterSecondRestart, "a line the device let go is asserted after its restart");
    }

    /// <summary>One write to the device's command register, bounded: an access that stalls on a dead device fails the test instead of hanging it.</summary>
    private static Task WriteAsync(IsolatedDeviceHarness harness, ulong value) =>
        Task.Run(() => harness.Machine.Bus.WritePort(Port + (ushort)TestDevice.MapChangeRegister, 4, (uint)value)).WaitAsync(TestDeadlines.Seconds(30));
}
