using System.Diagnostics;
using SplitEmu.CpuHost.Machine;
using SplitEmu.DeviceHost.Devices.Testing;
using SplitEmu.DeviceHost.Sdk;
using SplitEmu.Launch.CrashTest;
using SplitEmu.Shared.Profiles;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;
using Xunit.Abstractions;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Memory;

/// <summary>
/// Unplug, drain and self-removal against a real device process: the invariants of DESIGN.md section 3, each
/// checked where it could break.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class UnplugTests(ITestOutputHelper output)
{
    private const ushort Base = 0x510;
    private const string DeviceId = "dev";
    private static readonly TimeSpan s_deadline = TestDeadlines.Seconds(5);

    private static DeviceConfig TestDev(WaitPolicy policy = WaitPolicy.Handoff) =>
        new() { Id = DeviceId, Type = TestDevice.TypeName, Io = Base, Placement = Placement.Isolated, WaitPolicy = policy };

    [Fact]
    public async Task UnplugAndReplug_10000Times_UnderConcurrentAccesses_NoAccessAfterGoneAndNoLeakedLease()
    {
        const int Cycles = 10_000;
        const int AccessThreads = 3;
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(TestDev()));
        VirtualMachine machine = harness.Machine;
        int stop = 0;
        long served = 0; // reads the device answered (a removed region answers all ones)
        Thread[] accessors = Enumerable.Range(0, AccessThreads).Select(t => new Thread(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                uint value = machine.Bus.ReadPort(Base + (ushort)TestDevice.CounterRegister, 4);
                machine.Bus.WritePort(Base + (ushort)TestDevice.CounterRegister, 4, 1);
                if (value != uint.MaxValue)
                {
                    Interlocked.Increment(ref served);
                }
                else
                {
                    Thread.Yield(); // unplugged right now: let the unplugging thread run
                }
            }
        }) { IsBackground = true }).ToArray();
        foreach (Thread thread in accessors)
        {
            thread.Start();
        }

        TimeSpan slowest = TimeSpan.Zero;
        Stopwatch total = Stopwatch.StartNew();
        int cyclesWithAccesses = 0;
        List<double> unplugMs = new(Cycles);
        try
        {
            for (int cycle = 0; cycle < Cycles; cycle++)
            {
                // Let accesses reach the device in this mapped window, so the unplug races with accesses in flight.
                long before = Interlocked.Read(ref served);
                if (SpinWait.SpinUntil(() => Interlocked.Read(ref served) >= before + AccessThreads, TestDeadlines.Seconds(1)))
                {
                    cyclesWithAccesses++;
                }

                Stopwatch took = Stopwatch.StartNew();
                await machine.Devices.UnplugAsync(DeviceId, s_deadline).WaitAsync(s_deadline);
                slowest = took.Elapsed > slowest ? took.Elapsed : slowest;
                unplugMs.Add(took.Elapsed.TotalMilliseconds);
                machine.Devices.Replug(DeviceId);
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            foreach (Thread thread in accessors)
            {
                thread.Join(TestDeadlines.Seconds(30));
            }
        }

        DeviceAccessStats device = await harness.StopDeviceAsync(DeviceId);
        Percentiles unplug = Percentiles.Of(unplugMs.Select(ms => (double?)ms));
        output.WriteLine(
            $"{Cycles} unplug/replug cycles in {total.Elapsed.TotalSeconds:F1} s; unplug p50 {unplug.P50:F2} ms, " +
            $"p99 {unplug.P99:F2} ms, max {slowest.TotalMilliseconds:F1} ms; " +
            $"{device.Reads + device.Writes} accesses served, in {cyclesWithAccesses} of the mapped windows; {device.AccessesAfterGone} after gone");
        Assert.Equal(0, device.AccessesAfterGone);
        Assert.All(machine.Devices.Describe(), r => Assert.Equal(0, r.Leases));
        Assert.True(cyclesWithAccesses > Cycles / 2, $"accesses reached the device in only {cyclesWithAccesses} of {Cycles} windows");
        Assert.True(slowest < s_deadline, $"an unplug took {slowest.TotalMilliseconds} ms");
        Assert.Equal(0, harness.DeviceProcess.Process.HasExited ? 1 : 0); // no unplug had to kill the device
    }

    [Fact]
    public async Task SelfRemovalFromInsideTheHandler_1000Times_NeverDeadlocks_AndTheNextAccessSeesTheNewMap()
    {
        const int Rounds = 1_000;
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(TestDev()));
        VirtualMachine machine = harness.Machine;
        int stillMappedAfterWrite = 0;

        for (int round = 0; round < Rounds; round++)
        {
            // The guest's write makes the device ask, from inside its handler, for its own region to go.
            machine.Bus.WritePort(Base + (ushort)TestDevice.MapChangeRegister, 4, (uint)MapChangeKind.Remove);
            if (machine.Io.View.TryFind(Base, out _))
            {
                stillMappedAfterWrite++;
            }

            // The drain completes asynchronously; awaiting the unplug of a removed region returns its drain.
            await machine.Devices.UnplugAsync(DeviceId, s_deadline).WaitAsync(s_deadline);
            machine.Devices.Replug(DeviceId);
        }

        DeviceAccessStats served = await harness.StopDeviceAsync(DeviceId);
        Assert.Equal(0, stillMappedAfterWrite);
        Assert.Equal(0, served.AccessesAfterGone);
        Assert.Equal(Rounds, served.Writes);
    }

    [Fact]
    public async Task HungHandler_MissingTheDrainDeadline_IsKilledBeforeItsLeaseIsReleased()
    {
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(TestDev()));
        VirtualMachine machine = harness.Machine;
        int pid = harness.DeviceProcess.ProcessId;
        bool deviceAliveWhenAccessEnded = true;
        Thread stuck = new(() =>
        {
            // Stalls the handler far beyond the drain deadline below.
            machine.Bus.WritePort(Base + (ushort)TestDevice.StallRegister, 4, 60_000);
            deviceAliveWhenAccessEnded = ProcessTable.IsAlive(pid);
        }) { IsBackground = true };
        stuck.Start();
        Assert.True(ProcessTable.WaitUntil(() => machine.Devices.Describe().Single().Leases == 1, TestDeadlines.Seconds(10)), "the stalled access never took its lease");

        await machine.Devices.UnplugAsync(DeviceId, TimeSpan.FromMilliseconds(300)).WaitAsync(TestDeadlines.Seconds(30));
        Assert.True(stuck.Join(TestDeadlines.Seconds(10)), "the stalled access never ended");

        Assert.False(deviceAliveWhenAccessEnded, "a lease was released while the hung device could still run its handler");
        Assert.False(ProcessTable.IsAlive(pid));
        Assert.Equal(0, machine.Devices.Describe().Single().Leases);
    }

    [Fact]
    public async Task UnplugTwice_ReturnsTheSameDrain()
    {
        await using IsolatedDeviceHarness harness = await IsolatedDeviceHarness.StartAsync(IsolatedDeviceHarness.Profile(TestDev()));

        Task first = harness.Machine.Devices.UnplugAsync(DeviceId, s_deadline);
        Task second = harness.Machine.Devices.UnplugAsync(DeviceId, s_deadline);
        await first.WaitAsync(s_deadline);

        Assert.Same(first, second);
        Assert.False(harness.Machine.Io.View.TryFind(Base, out _));
    }
}
