using System.Text.Json;
using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Machine;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Rpc;

namespace SplitEmu.Tests.Dispatch;

/// <summary>
/// The bus gives a device region only the access sizes it declared: wider accesses are split, narrower ones
/// widened to the aligned minimum unit, and accesses running past a range's end cut there.
/// </summary>
public sealed class AccessSizeTests
{
    private const ulong Mmio = 0x1000_0000;

    /// <summary>Answers byte <c>n</c> of its registers with <c>0x10 + n</c> and records every access it gets.</summary>
    private sealed class RecordingHandler : IRegionHandler
    {
        public List<(char Kind, ulong Offset, int Size, ulong Value)> Accesses { get; } = [];

        public ulong Read(ulong offset, int size)
        {
            ulong value = 0;
            for (int i = 0; i < size; i++)
            {
                value |= (0x10 + offset + (ulong)i) << (8 * i);
            }

            Accesses.Add(('R', offset, size, value));
            return value;
        }

        public void Write(ulong offset, int size, ulong value) => Accesses.Add(('W', offset, size, value));
    }

    private static (MachineBus Bus, RecordingHandler Device) RegionOf(ulong size, int min, int max)
    {
        MachineMap machine = new();
        AddressSpace memory = new("memory", 1UL << 32, machine);
        AddressSpace io = new("io", 0x10000, machine);
        RecordingHandler device = new();
        using (machine.BeginTransaction())
        {
            memory.AddSubregion(memory.Root, Mmio, MemoryRegion.Device("dev.regs", size, device, new DeviceHandle("dev"), min, max));
        }

        return (new MachineBus(memory, io), device);
    }

    [Fact]
    public void AcceptedSize_ReachesTheDeviceAsItCame_EvenUnaligned()
    {
        (MachineBus bus, RecordingHandler device) = RegionOf(16, 1, 4);

        ulong value = bus.ReadMemory(Mmio + 1, 4);

        Assert.Equal([('R', 1UL, 4, 0x1413_1211UL)], device.Accesses);
        Assert.Equal(0x1413_1211UL, value);
    }

    [Fact]
    public void FourByteRead_OfAOneByteRegion_IsFourByteReadsInAddressOrder_AssembledLittleEndian()
    {
        (MachineBus bus, RecordingHandler device) = RegionOf(8, 1, 1);

        ulong value = bus.ReadMemory(Mmio + 4, 4);

        Assert.Equal([4UL, 5UL, 6UL, 7UL], device.Accesses.Select(a => a.Offset));
        Assert.All(device.Accesses, a => Assert.Equal(('R', 1), (a.Kind, a.Size)));
        Assert.Equal(0x1716_1514UL, value);
    }

    [Fact]
    public void FourByteWrite_ToAOneByteRegion_GivesEachPartItsByte_InAddressOrder()
    {
        (MachineBus bus, RecordingHandler device) = RegionOf(8, 1, 1);

        bus.WriteMemory(Mmio, 4, 0xDDCC_BBAA);

        Assert.Equal([('W', 0UL, 1, 0xAAUL), ('W', 1UL, 1, 0xBBUL), ('W', 2UL, 1, 0xCCUL), ('W', 3UL, 1, 0xDDUL)], device.Accesses);
    }

    [Fact]
    public void EightByteRead_OfAFourByteRegion_IsTwoFourByteReads()
    {
        (MachineBus bus, RecordingHandler device) = RegionOf(16, 1, 4);

        ulong value = bus.ReadMemory(Mmio + 8, 8);

        Assert.Equal([(8UL, 4), (12UL, 4)], device.Accesses.Select(a => (a.Offset, a.Size)));
        Assert.Equal(ValueOf(0x18, 8), value);
    }

    [Fact]
    public void ByteRead_OfATwoByteMinimumRegion_ReadsTheAlignedUnit_AndKeepsItsByte()
    {
        (MachineBus bus, RecordingHandler device) = RegionOf(4, 2, 2);

        ulong value = bus.ReadMemory(Mmio + 3, 1);

        Assert.Equal([('R', 2UL, 2, 0x1312UL)], device.Accesses);
        Assert.Equal(0x13UL, value);
    }

    [Fact]
    public void ByteWrite_ToAFourByteMinimumRegion_WritesTheAlignedUnit_WithZerosBesideIt_AndReadsNothing()
    {
        (MachineBus bus, RecordingHandler device) = RegionOf(8, 4, 4);

        bus.WriteMemory(Mmio + 6, 1, 0xAB);

        Assert.Equal([('W', 4UL, 4, 0x00AB_0000UL)], device.Accesses);
    }

    [Fact]
    public void UnalignedWordRead_OfATwoByteOnlyRegion_ReadsBothUnitsItTouchesOnce()
    {
        (MachineBus bus, RecordingHandler device) = RegionOf(8, 2, 2);

        ulong value = bus.ReadMemory(Mmio + 1, 4);

        // Bytes 1..4: byte 1 from unit [0,2), bytes 2-3 as one unit, byte 4 from unit [4,6).
        Assert.Equal([(0UL, 2), (2UL, 2), (4UL, 2)], device.Accesses.Select(a => (a.Offset, a.Size)));
        Assert.Equal(0x1413_1211UL, value);
    }

    [Fact]
    public void UnalignedWordWrite_ToATwoByteOnlyRegion_PutsEachByteInItsUnit()
    {
        (MachineBus bus, RecordingHandler device) = RegionOf(8, 2, 2);

        bus.WriteMemory(Mmio + 1, 4, 0xDDCC_BBAA);

        Assert.Equal([('W', 0UL, 2, 0xAA00UL), ('W', 2UL, 2, 0xCCBBUL), ('W', 4UL, 2, 0x00DDUL)], device.Accesses);
    }

    [Fact]
    public void AccessRunningPastTheEndOfARegion_IsCutThere_EachRegionGetsOneAccess()
    {
        MachineMap machine = new();
        AddressSpace memory = new("memory", 1UL << 32, machine);
        AddressSpace io = new("io", 0x10000, machine);
        RecordingHandler first = new();
        RecordingHandler second = new();
        using (machine.BeginTransaction())
        {
            io.AddSubregion(io.Root, 0x700, MemoryRegion.Device("a.regs", 4, first, new DeviceHandle("a")));
            io.AddSubregion(io.Root, 0x704, MemoryRegion.Device("b.regs", 4, second, new DeviceHandle("b")));
        }

        uint value = new MachineBus(memory, io).ReadPort(0x702, 4);

        Assert.Equal([('R', 2UL, 2, 0x1312UL)], first.Accesses);
        Assert.Equal([('R', 0UL, 2, 0x1110UL)], second.Accesses);
        Assert.Equal(0x1110_1312u, value);
    }

    [Fact]
    public void DeclaredSizes_TravelThroughTheDeviceMap_ToTheRegion()
    {
        MachineMap machine = new();
        AddressSpace memory = new("memory", 1UL << 32, machine);
        AddressSpace io = new("io", 0x10000, machine);
        DeviceMap map = new(memory, io);

        map.Plug("dev", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x700, 8, MinAccessSize: 2, MaxAccessSize: 4)], new InlineDevice("dev", new NullDevice()));

        Assert.True(io.View.TryFind(0x700, out FlatRange range));
        Assert.Equal((2, 4, 2 | 4), (range.Region.MinAccessSize, range.Region.MaxAccessSize, range.Region.AccessSizes));
    }

    [Theory]
    [InlineData(3, 4)]
    [InlineData(4, 2)]
    [InlineData(1, 16)]
    [InlineData(8, 8)] // the region (6 ports) is no multiple of 8
    public void DeviceProcessDeclaringImpossibleAccessSizes_IsRefusedAtPlug(int min, int max)
    {
        MachineMap machine = new();
        AddressSpace memory = new("memory", 1UL << 32, machine);
        AddressSpace io = new("io", 0x10000, machine);
        DeviceMap map = new(memory, io);

        InvalidDataException refused = Assert.Throws<InvalidDataException>(() => map.Plug(
            "dev", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x700, 6, MinAccessSize: min, MaxAccessSize: max)], new ProcessLink()));

        Assert.Contains("access size", refused.Message, StringComparison.Ordinal);
        Assert.False(io.View.TryFind(0x700, out _));
    }

    [Fact]
    public void RegionInfoWithoutSizes_FromAnOlderPeer_TakesEverySize()
    {
        // The control plane carries DeviceRegionInfo as JSON: a peer that does not know the fields must keep today's meaning.
        const string Json = """{"Name":"regs","Space":1,"Base":1016,"Size":8}""";

        DeviceRegionInfo info = JsonSerializer.Deserialize(Json, RpcJsonContext.Default.DeviceRegionInfo)!;
        DeviceRegionInfo roundTrip = JsonSerializer.Deserialize(
            JsonSerializer.Serialize(info with { MinAccessSize = 2, MaxAccessSize = 4 }, RpcJsonContext.Default.DeviceRegionInfo),
            RpcJsonContext.Default.DeviceRegionInfo)!;

        Assert.Equal((1, 8), (info.MinAccessSize, info.MaxAccessSize));
        Assert.Equal((2, 4), (roundTrip.MinAccessSize, roundTrip.MaxAccessSize));
    }

    private static ulong ValueOf(ulong firstByte, int size)
    {
        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            value |= (firstByte + (ulong)i) << (8 * i);
        }

        return value;
    }

    private sealed class NullDevice : DeviceHost.Sdk.IDevice
    {
        public IReadOnlyList<DeviceRegionInfo> Regions => [];

        public ulong Read(int region, ulong offset, int size) => 0;

        public void Write(int region, ulong offset, int size, ulong value)
        {
        }

        public void Reset()
        {
        }
    }

    private sealed class ProcessLink : IDeviceLink
    {
        public bool CanBeStopped => true;

        public IRegionHandler HandlerFor(int region) => new RecordingHandler();

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
