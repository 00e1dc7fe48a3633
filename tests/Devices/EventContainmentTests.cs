using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.Launch.Supervision;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Devices;

/// <summary>
/// A device process is untrusted: the CPU process checks each event against what the sending device is, and
/// the launcher checks whose output a device process sends. A test device forges events on command through
/// its ordinary device context, in a real device process over a real ring.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class EventContainmentTests
{
    private const ushort TestPort = 0x510;

    private static DeviceConfig Testdev() => new() { Id = "hostile", Type = TestDevice.TypeName, Io = TestPort, Placement = Placement.Isolated };

    [Theory]
    [InlineData(false, false)] // a testdev may not end the machine: refused
    [InlineData(true, true)]   // the same event from a device granted it (debug-exit's grant) ends it
    public async Task MachineExitEvent_EndsTheMachineOnlyFromADeviceGrantedIt(bool granted, bool ends)
    {
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(
            IsolatedDeviceHarness.Profile(Testdev()), eventGrants: [new DeviceEventGrant(EndsMachine: granted, BusMaster: false)]);

        // Synchronous register: the events the handler raised are applied (or refused) before the write returns.
        harness.Machine.Bus.WritePort((ushort)(TestPort + TestDevice.MapChangeRegister), 4, (uint)TestDevice.ForgeMachineExit);

        Assert.Equal(ends, harness.Machine.Exit is not null);
    }

    [Fact]
    public async Task MapChangeEvent_ForARegionTheDeviceDoesNotHave_ChangesNothing()
    {
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(
            IsolatedDeviceHarness.Profile(Testdev()), eventGrants: [new DeviceEventGrant(false, false)]);

        harness.Machine.Bus.WritePort((ushort)(TestPort + TestDevice.MapChangeRegister), 4, (uint)TestDevice.ForgeForeignRegionChange);

        Assert.Equal(6u, harness.Machine.Bus.ReadPort(TestPort + 6, 1)); // still mapped: an unnamed offset answers itself
        Assert.Null(harness.Machine.Exit);
    }

    [Fact]
    public async Task OutputUnderAnotherDevicesId_IsDropped_AndReportedOnce()
    {
        using MemoryStream console = new();
        using ConsoleRouter router = new("com1", console);
        StringWriter log = new();
        DeviceOutputGate gate = new("disk-process", ["ide0"], router, log);

        await gate.DeviceOutput("com1", 0, "forged login: "u8.ToArray());
        await gate.DeviceOutput("com1", 14, "again"u8.ToArray());
        await gate.DeviceOutput("ide0", 0, "own log"u8.ToArray());

        Assert.True(router.DrainConsole(TestDeadlines.Seconds(10)));
        Assert.Equal(0, console.Length);
        Assert.Equal(2, gate.Refused);
        Assert.Equal(7, router.Received("ide0"));
        Assert.Single(log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("'disk-process'", log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OutputSentBeforeTheLastBatchIsAcknowledged_IsDropped_SoNothingQueuesWithoutBound()
    {
        HeldOutput inner = new();
        StringWriter log = new();
        DeviceOutputGate gate = new("disk-process", ["ide0"], inner, log);

        Task first = gate.DeviceOutput("ide0", 0, "first"u8.ToArray());
        Task second = gate.DeviceOutput("ide0", 5, "second"u8.ToArray()); // the first is not acknowledged yet
        Assert.True(second.IsCompleted);
        Assert.False(first.IsCompleted);
        inner.Acknowledge();
        await first;
        await gate.DeviceOutput("ide0", 5, "third"u8.ToArray());

        Assert.Equal(["first", "third"], inner.Batches);
        Assert.Equal(1, gate.Refused);
        Assert.Contains("before its last batch was acknowledged", log.ToString(), StringComparison.Ordinal);
    }

    /// <summary>A launcher side that holds the first batch until told to acknowledge it.</summary>
    private sealed class HeldOutput : ILaunchCallbacks
    {
        private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Batches { get; } = [];

        public void Acknowledge() => _held.TrySetResult();

        public Task DeviceOutput(string deviceId, long offset, byte[] data)
        {
            Batches.Add(System.Text.Encoding.ASCII.GetString(data));
            return Batches.Count == 1 ? _held.Task : Task.CompletedTask;
        }
    }
}
