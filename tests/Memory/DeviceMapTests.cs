using SplitEmu.CpuHost.Dispatch;
using SplitEmu.CpuHost.Machine;
using SplitEmu.CpuHost.Memory;
using SplitEmu.Shared.Rpc;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Memory;

/// <summary>Rules of the device map that need no device process: refusals that prevent deadlocks.</summary>
public sealed class DeviceMapTests
{
    private const ushort Port = 0x700;

    /// <summary>A device link whose handler runs a test-supplied action inside the access.</summary>
    private sealed class ScriptedLink(Func<ulong> onRead, bool deviceProcess = false) : IDeviceLink, IRegionHandler
    {
        public bool CanBeStopped => deviceProcess;

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

        public ulong Read(ulong offset, int size) => onRead();

        public void Write(ulong offset, int size, ulong value)
        {
        }
    }

    private static (AddressSpace Io, DeviceMap Map, MachineBus Bus) NewMachine()
    {
        AddressSpace memory = new("memory", 1UL << 32);
        AddressSpace io = new("io", 0x10000);
        return (io, new DeviceMap(memory, io), new MachineBus(memory, io));
    }

    private static DeviceRegionInfo[] OnePortRange => [new DeviceRegionInfo("regs", AddressSpaceKind.Io, Port, 4)];

    [Fact]
    public void SynchronousUnplug_FromInsideAnAccessToTheSameDevice_IsRefusedInsteadOfHanging()
    {
        (_, DeviceMap map, MachineBus bus) = NewMachine();
        Exception? refusal = null;
        map.Plug("dev", OnePortRange, new ScriptedLink(() =>
        {
            refusal = Record.Exception(() => map.Unplug("dev", TestDeadlines.Seconds(5)));
            return 0;
        }));

        bus.ReadPort(Port, 1);

        InvalidOperationException error = Assert.IsType<InvalidOperationException>(refusal);
        Assert.Contains("would wait for itself", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AccessThatWouldReenterTheDeviceHandlingIt_IsRefusedWithABusError()
    {
        (_, DeviceMap map, MachineBus bus) = NewMachine();
        ulong innerValue = 0;
        map.Plug("dev", OnePortRange, new ScriptedLink(() =>
        {
            // The device's handler reaches its own registers (as a DMA into its own BAR would).
            innerValue = bus.ReadPort(Port, 1);
            return 0x12;
        }));

        ulong outer = bus.ReadPort(Port, 1);

        Assert.Equal(0x12UL, outer);
        Assert.Equal(0xFFUL, innerValue);
        Assert.Equal(1, bus.ReentryRefusals);
    }

    [Fact]
    public void RegionRemovedFromInsideItsHandler_IsGoneWhenTheAccessReturns()
    {
        (AddressSpace io, DeviceMap map, MachineBus bus) = NewMachine();
        DeviceHandle? dev = null;
        dev = map.Plug("dev", OnePortRange, new ScriptedLink(() =>
        {
            map.RequestChange(dev!, 0, DeviceHost.Sdk.MapChangeKind.Remove, 0);
            return 1;
        }));

        bus.ReadPort(Port, 1);

        Assert.False(io.View.TryFind(Port, out _));
        Assert.Equal("removed", Assert.Single(map.Describe()).State);
    }

    [Fact]
    public void ChangeRequestForARegionTheDeviceDoesNotHave_IsRejectedAndCounted()
    {
        (_, DeviceMap map, _) = NewMachine();
        DeviceHandle dev = map.Plug("dev", OnePortRange, new ScriptedLink(() => 0));

        map.RequestChange(dev, 7, DeviceHost.Sdk.MapChangeKind.Remove, 0);
        map.RequestChange(dev, 0, DeviceHost.Sdk.MapChangeKind.Move, 0xFFFF);

        Assert.Equal(2, map.RejectedRequests);
        Assert.Equal("mapped", Assert.Single(map.Describe()).State);
    }

    [Fact]
    public async Task ChangeRequestOfADeviceTheMapForgot_IsRejected_EvenWhenAnotherDeviceNowHasItsId()
    {
        // A request carries the handle its device was plugged with, not its id: a late request of a device that was
        // unplugged and forgotten never moves the region of the device plugged under the same id since.
        (AddressSpace io, DeviceMap map, _) = NewMachine();
        DeviceHandle old = map.Plug("dev", OnePortRange, new ScriptedLink(() => 0x11));
        await map.UnplugAsync("dev", DeviceMap.DefaultDrainDeadline);
        map.Forget("dev");
        DeviceHandle current = map.Plug("dev", OnePortRange, new ScriptedLink(() => 0x22));

        map.RequestChange(old, 0, DeviceHost.Sdk.MapChangeKind.Move, 0x900);

        Assert.NotSame(old, current);
        Assert.Equal(1, map.RejectedRequests);
        Assert.True(io.View.TryFind(Port, out _));
        Assert.False(io.View.TryFind(0x900, out _));
    }

    [Fact]
    public void MoveOverAnotherDevicesRegion_IsRejected_AndBothKeepTheirPorts()
    {
        (AddressSpace io, DeviceMap map, MachineBus bus) = NewMachine();
        map.Plug("victim", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x800, 1)], new ScriptedLink(() => 0x11));
        DeviceHandle thief = map.Plug("thief", OnePortRange, new ScriptedLink(() => 0x22));

        map.RequestChange(thief, 0, DeviceHost.Sdk.MapChangeKind.Move, 0x800);
        map.RequestChange(thief, 0, DeviceHost.Sdk.MapChangeKind.Move, 0x900);

        Assert.Equal(1, map.RejectedRequests);
        Assert.Equal(0x11u, bus.ReadPort(0x800, 1));
        Assert.Equal(0x22u, bus.ReadPort(0x900, 1));
        Assert.False(io.View.TryFind(Port, out _));
    }

    [Fact]
    public void RefusedMove_NamesTheRegionWhereItWouldGo_AndTheRangeItWouldCover_WithItsOwner()
    {
        (_, DeviceMap map, _) = NewMachine();
        map.Plug("victim", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x802, 1)], new ScriptedLink(() => 0x11));
        DeviceHandle thief = map.Plug("thief", OnePortRange, new ScriptedLink(() => 0x22));

        map.RequestChange(thief, 0, DeviceHost.Sdk.MapChangeKind.Move, 0x800);

        Assert.Equal(
            "device 'thief' asked to move region 'thief.regs' at io 0x700-0x703 to io 0x800-0x803: refused, " +
            "it would cover region 'victim.regs' at io 0x802-0x802 of device 'victim'",
            map.LastRefusal);
    }

    [Fact]
    public void RefusedEnable_NamesBothRanges()
    {
        (_, DeviceMap map, _) = NewMachine();
        map.Plug("victim", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x801, 1)], new ScriptedLink(() => 0x11));
        DeviceHandle thief = map.Plug("thief", [new DeviceRegionInfo("bar", AddressSpaceKind.Io, 0x800, 4, StartsDisabled: true)], new ScriptedLink(() => 0x22));

        map.RequestChange(thief, 0, DeviceHost.Sdk.MapChangeKind.Enable, 0);

        Assert.Equal(
            "device 'thief' asked to show region 'thief.bar' at io 0x800-0x803: kept hidden until it moves, " +
            "it would cover region 'victim.regs' at io 0x801-0x801 of device 'victim'",
            map.LastRefusal);
    }

    [Fact]
    public void EnableOverAnotherDevicesRegion_StaysHidden_UntilAMoveTakesItSomewhereFree()
    {
        // A hidden BAR stays where it was while another device takes that port; showing it there would capture it.
        // The device believes it enabled, so the next move (the guest reprograms the BAR) shows it where it lands.
        (_, DeviceMap map, MachineBus bus) = NewMachine();
        map.Plug("victim", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x800, 1)], new ScriptedLink(() => 0x11));
        DeviceHandle thief = map.Plug("thief", [new DeviceRegionInfo("bar", AddressSpaceKind.Io, 0x800, 4, StartsDisabled: true)], new ScriptedLink(() => 0x22));

        map.RequestChange(thief, 0, DeviceHost.Sdk.MapChangeKind.Enable, 0);
        uint victimWhileRefused = bus.ReadPort(0x800, 1);
        uint besideWhileRefused = bus.ReadPort(0x801, 1);
        map.RequestChange(thief, 0, DeviceHost.Sdk.MapChangeKind.Move, 0x900);

        Assert.Equal(1, map.RejectedRequests);
        Assert.Equal(0x11u, victimWhileRefused);
        Assert.Equal(0xFFu, besideWhileRefused); // nothing answers beside the victim's port
        Assert.Equal(0x11u, bus.ReadPort(0x800, 1));
        Assert.Equal(0x22u, bus.ReadPort(0x900, 1));
    }

    [Theory]
    [InlineData(0x7FEUL, 4UL, "declared region 'thief.bad' at io 0x7fe-0x801 over another owner's range: region 'victim.regs' at io 0x800-0x800 of device 'victim'")]
    [InlineData(0xFFFEUL, 4UL, "outside its Io space")]
    [InlineData(0x900UL, 0UL, "outside its Io space")]
    public void DeviceProcessDeclaringABadRegion_IsRefusedAtPlug_AndMapsNothing(ulong at, ulong size, string why)
    {
        // Where a device process's regions go is its own claim, and it is not trusted.
        (AddressSpace io, DeviceMap map, MachineBus bus) = NewMachine();
        map.Plug("victim", [new DeviceRegionInfo("regs", AddressSpaceKind.Io, 0x800, 1)], new ScriptedLink(() => 0x11));

        InvalidDataException refused = Assert.Throws<InvalidDataException>(() => map.Plug(
            "thief", [new DeviceRegionInfo("fine", AddressSpaceKind.Io, 0xA00, 1), new DeviceRegionInfo("bad", AddressSpaceKind.Io, at, size)], new ScriptedLink(() => 0x22, deviceProcess: true)));

        Assert.Contains("thief", refused.Message, StringComparison.Ordinal);
        Assert.Contains(why, refused.Message, StringComparison.Ordinal);
        Assert.Equal(0x11u, bus.ReadPort(0x800, 1));
        Assert.False(io.View.TryFind(0xA00, out _));
        Assert.Equal(["victim"], map.Describe().Select(r => r.Owner));
    }
}
