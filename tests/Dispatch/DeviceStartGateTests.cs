using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Machine;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Timing;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Dispatch;

/// <summary>
/// The guest runs while device processes still attach: an access that finds no region waits for them and is looked
/// up again, so it reaches the device that claimed the address meanwhile; the machine's clock stands still while it
/// waits; RAM and claimed regions never wait.
/// </summary>
public sealed class DeviceStartGateTests
{
    private const ushort Port = 0x3F8;

    /// <summary>How long a test watches an access that must not finish (not a deadline: nothing may happen in it).</summary>
    private static readonly TimeSpan s_observe = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task AnAccessToAnAddressNoOneClaimsYet_WaitsForTheAttach_AndReachesTheDeviceThatClaimedIt()
    {
        MachineClockSource clock = new();
        (MachineMap machine, AddressSpace io, MachineBus bus) = Machine();
        DeviceStartGate gate = new(processes: 2, clock);
        bus.StartGate = gate;

        Task<uint> read = Task.Factory.StartNew(() => bus.ReadPort(Port, 1), TaskCreationOptions.LongRunning);
        Assert.False(await Finishes(read), "the access must wait while devices attach");

        using (machine.BeginTransaction())
        {
            io.AddSubregion(io.Root, Port, MemoryRegion.Device("uart.regs", 8, new Answering(0x42), new DeviceHandle("uart")));
        }

        gate.Attached();
        Assert.False(await Finishes(read), "one of two processes attached: still waiting");
        gate.Attached();

        Assert.Equal(0x42u, await read.WaitAsync(TestDeadlines.Seconds(10)));
        Assert.Equal(0, bus.UnassignedAccesses);
        Assert.True(clock.StoppedNanoseconds >= 2 * s_observe.Ticks * 100, $"the clock ran while the access waited: stopped {clock.StoppedNanoseconds} ns");
    }

    [Fact]
    public async Task OnceOpen_AnAddressNoOneClaims_ReadsAllOnesAtOnce_AndAStoppingMachineOpensIt()
    {
        (_, _, MachineBus bus) = Machine();
        DeviceStartGate gate = new(processes: 1, new MachineClockSource());
        bus.StartGate = gate;

        Task<uint> read = Task.Factory.StartNew(() => bus.ReadPort(0x80, 1), TaskCreationOptions.LongRunning);
        Assert.False(await Finishes(read));
        gate.Open(); // the machine stops before the device attached

        Assert.Equal(0xFFu, await read.WaitAsync(TestDeadlines.Seconds(10)));
        Assert.Equal(0xFFFFu, bus.ReadPort(0x80, 2)); // open: no wait
        Assert.Equal(2, bus.UnassignedAccesses);
    }

    [Fact]
    public void AClaimedRegion_IsNeverHeldBack_WhileOthersAttach()
    {
        (MachineMap machine, AddressSpace io, MachineBus bus) = Machine();
        using (machine.BeginTransaction())
        {
            io.AddSubregion(io.Root, 0x501, MemoryRegion.Device("exit.regs", 1, new Answering(7), new DeviceHandle("exit")));
        }

        bus.StartGate = new DeviceStartGate(processes: 3, new MachineClockSource());

        Assert.Equal(7u, bus.ReadPort(0x501, 1)); // an inline device: answered at once, the gate closed
    }

    /// <summary>Whether <paramref name="access"/> finishes while watched for <see cref="s_observe"/>.</summary>
    private static async Task<bool> Finishes(Task access) => await Task.WhenAny(access, Task.Delay(s_observe)) == access;

    private static (MachineMap Machine, AddressSpace Io, MachineBus Bus) Machine()
    {
        MachineMap machine = new();
        AddressSpace memory = new("memory", 1UL << 32, machine);
        AddressSpace io = new("io", 0x10000, machine);
        return (machine, io, new MachineBus(memory, io));
    }

    private sealed class Answering(ulong value) : IRegionHandler
    {
        public ulong Read(ulong offset, int size) => value;

        public void Write(ulong offset, int size, ulong written)
        {
        }
    }
}
