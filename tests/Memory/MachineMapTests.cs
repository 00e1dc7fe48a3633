using System.Diagnostics;
using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Machine;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Memory;

/// <summary>Machine-wide transactions: a change to several spaces is published once, and never seen half done.</summary>
public sealed class MachineMapTests
{
    /// <summary>The one device that owns the regions of these tests.</summary>
    private static readonly DeviceHandle s_dev = new("dev");

    /// <summary>Where the device's ports and MMIO sit at step k: k ports and k pages up from these.</summary>
    private const ulong FirstPort = 0x1000, FirstMmio = 0x1000_0000, MmioStride = 0x1000;

    /// <summary>Moves the writer makes: enough for the observer (on the other core) to meet many commits.</summary>
    private const int Moves = 20_000;

    private sealed class NullHandler : IRegionHandler
    {
        public ulong Read(ulong offset, int size) => 0;

        public void Write(ulong offset, int size, ulong value)
        {
        }
    }

    private static (MachineMap Machine, AddressSpace Memory, AddressSpace Io) NewMachine()
    {
        MachineMap machine = new();
        return (machine, new AddressSpace("memory", 1UL << 32, machine), new AddressSpace("io", 0x10000, machine));
    }

    [Fact]
    public void TransactionAcrossIoAndMemory_IsPublishedOnce_WithBothSpacesChanged()
    {
        (MachineMap machine, AddressSpace memory, AddressSpace io) = NewMachine();
        MachineBus bus = new(memory, io);
        List<MapSnapshot> published = [];
        machine.Published += published.Add;
        int busGenerationBefore = bus.MapGeneration;

        using (machine.BeginTransaction())
        {
            io.AddSubregion(io.Root, FirstPort, MemoryRegion.Device("dev.ports", 8, new NullHandler(), s_dev));
            memory.AddSubregion(memory.Root, FirstMmio, MemoryRegion.Device("dev.mmio", 0x100, new NullHandler(), s_dev));
        }

        MapSnapshot only = Assert.Single(published);
        Assert.Same(only, machine.Current);
        Assert.True(io.ViewIn(only).TryFind(FirstPort, out _));
        Assert.True(memory.ViewIn(only).TryFind(FirstMmio, out _));
        Assert.Equal(busGenerationBefore + 1, bus.MapGeneration);
    }

    [Fact]
    public async Task UnplugOfADeviceWithPortsAndMmio_IsOnePublication()
    {
        (MachineMap machine, AddressSpace memory, AddressSpace io) = NewMachine();
        DeviceMap map = new(memory, io);
        map.Plug(
            "dev",
            [new DeviceRegionInfo("ports", AddressSpaceKind.Io, FirstPort, 8), new DeviceRegionInfo("mmio", AddressSpaceKind.Memory, FirstMmio, 0x100)],
            new ScriptedLink());
        int publications = 0;
        machine.Published += _ => publications++;

        Task drained = map.UnplugAsync("dev", TestDeadlines.Seconds(5));

        Assert.Equal(1, publications);
        Assert.False(io.View.TryFind(FirstPort, out _));
        Assert.False(memory.View.TryFind(FirstMmio, out _));
        await drained.WaitAsync(TestDeadlines.Seconds(5));
    }

    [Fact]
    public void ObserverOnAnotherThread_NeverSeesOneSpaceMovedAndTheOtherNot()
    {
        // The writer moves a device's ports and MMIO together, one step at a time, in one transaction each. The
        // observer reads one space, then the other: the second read comes later, so it must show the device at the
        // same step or a later one. A space published before the other would show the first read ahead.
        (MachineMap machine, AddressSpace memory, AddressSpace io) = NewMachine();
        MemoryRegion ports = MemoryRegion.Device("dev.ports", 1, new NullHandler(), s_dev);
        MemoryRegion mmio = MemoryRegion.Device("dev.mmio", MmioStride, new NullHandler(), s_dev);
        using (machine.BeginTransaction())
        {
            io.AddSubregion(io.Root, FirstPort, ports);
            memory.AddSubregion(memory.Root, FirstMmio, mmio);
        }

        using CancellationTokenSource done = new();
        long observations = 0;
        string? torn = null;
        Thread observer = new(() =>
        {
            bool ioFirst = false;
            while (!done.IsCancellationRequested && torn is null)
            {
                ioFirst = !ioFirst;
                long first = ioFirst ? StepOf(io.View, ports, FirstPort, 1) : StepOf(memory.View, mmio, FirstMmio, MmioStride);
                long second = ioFirst ? StepOf(memory.View, mmio, FirstMmio, MmioStride) : StepOf(io.View, ports, FirstPort, 1);
                if (second < first)
                {
                    torn = $"{(ioFirst ? "io" : "memory")} showed step {first}, then the other space step {second}";
                }

                observations++;
            }
        });
        observer.Start();

        Stopwatch time = Stopwatch.StartNew();
        for (int step = 1; step <= Moves && torn is null && time.Elapsed < TestDeadlines.Seconds(10); step++)
        {
            using (machine.BeginTransaction())
            {
                io.Move(ports, FirstPort + (ulong)step);
                memory.Move(mmio, FirstMmio + ((ulong)step * MmioStride));
            }
        }

        done.Cancel();
        Assert.True(observer.Join(TestDeadlines.Seconds(10)));

        Assert.Null(torn);
        Assert.True(observations > 0);
    }

    /// <summary>The step at which <paramref name="view"/> shows <paramref name="region"/>.</summary>
    private static long StepOf(FlatView view, MemoryRegion region, ulong first, ulong stride)
    {
        foreach (FlatRange range in view.Ranges)
        {
            if (ReferenceEquals(range.Region, region))
            {
                return (long)((range.Start - first) / stride);
            }
        }

        return -1;
    }

    private sealed class ScriptedLink : IDeviceLink, IRegionHandler
    {
        public bool CanBeStopped => false;

        public IRegionHandler HandlerFor(int region) => this;

        public bool Barrier() => true;

        public bool NotifyRegionGone(int region) => true;

        public bool NotifyRegionBack(int region) => true;

        public void StopHungDevice(string why)
        {
        }

        public void SetAbandoned(bool abandoned)
        {
        }

        public ulong Read(ulong offset, int size) => 0;

        public void Write(ulong offset, int size, ulong value)
        {
        }
    }
}
