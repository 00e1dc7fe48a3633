using System.Diagnostics;
using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Machine;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Launch.Bench;

/// <summary>
/// The cost of dispatch itself for an inline device: flat-view lookup, lease taken and released, access
/// context kept, against calling the same handler directly (the peer baseline, measured in the same run).
/// </summary>
public static class DispatchBench
{
    private const ushort Port = 0x510;

    /// <summary>Runs <paramref name="iterations"/> reads both ways, best of <paramref name="rounds"/>; prints a table.</summary>
    public static int Execute(int iterations, int rounds, TextWriter output)
    {
        AddressSpace memory = new("memory", 1UL << 32);
        AddressSpace io = new("io", 0x10000);
        DeviceMap map = new(memory, io);
        MachineBus bus = new(memory, io);
        CountingHandler handler = new();
        map.Plug("dev", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, Port, 16)], new Link(handler));
        // A few neighbours, so the lookup is not trivially the only range.
        map.Plug("com1", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x3F8, 8)], new Link(new CountingHandler()));
        map.Plug("exit", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x501, 1)], new Link(new CountingHandler()));

        double bestDispatch = double.MaxValue;
        double bestDirect = double.MaxValue;
        for (int round = 0; round < rounds; round++)
        {
            bestDirect = Math.Min(bestDirect, Time(iterations, () => handler.Read(0, 4)));
            bestDispatch = Math.Min(bestDispatch, Time(iterations, () => bus.ReadPort(Port, 4)));
        }

        output.WriteLine($"splitemu bench dispatch: {iterations:N0} reads per round, best of {rounds}, inline device");
        output.WriteLine($"{"path",-34}{"ns/access",12}{"ratio",10}");
        output.WriteLine($"{"bare handler call (baseline)",-34}{bestDirect,12:F1}{1.0,10:F2}");
        output.WriteLine($"{"dispatch: lookup+lease+release",-34}{bestDispatch,12:F1}{bestDispatch / bestDirect,10:F2}");
        output.WriteLine($"{"dispatch overhead",-34}{bestDispatch - bestDirect,12:F1}");
        return 0;
    }

    /// <summary>ns per call of <paramref name="access"/>.</summary>
    private static double Time(int iterations, Func<ulong> access)
    {
        ulong sink = 0;
        Stopwatch watch = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            sink += access();
        }

        watch.Stop();
        GC.KeepAlive(sink);
        return watch.Elapsed.TotalNanoseconds / iterations;
    }

    private sealed class CountingHandler : IRegionHandler
    {
        private ulong _reads;

        public ulong Read(ulong offset, int size) => ++_reads;

        public void Write(ulong offset, int size, ulong value) => _reads += value;
    }

    private sealed class Link(IRegionHandler handler) : IDeviceLink
    {
        public bool CanBeStopped => false;

        public IRegionHandler HandlerFor(int region) => handler;

        public bool Barrier() => true;

        public bool NotifyRegionGone(int region) => true;

        public bool NotifyRegionBack(int region) => true;

        public void StopHungDevice(string why)
        {
        }

        public void SetAbandoned(bool abandoned)
        {
        }
    }
}
