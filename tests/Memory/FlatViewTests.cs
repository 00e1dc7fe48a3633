using SplitEmu.CpuHost.Memory;

namespace SplitEmu.Tests.Memory;

/// <summary>Rendering region trees into flat views: priorities, containers, aliases, enable, publication.</summary>
public sealed class FlatViewTests
{
    private sealed class NullHandler : IRegionHandler
    {
        public ulong Read(ulong offset, int size) => 0;

        public void Write(ulong offset, int size, ulong value)
        {
        }
    }

    private static MemoryRegion Device(string name, ulong size) => MemoryRegion.Device(name, size, new NullHandler(), new DeviceHandle(name));

    [Fact]
    public void HigherPriority_HidesTheOverlappedPartOfALowerOne()
    {
        AddressSpace space = new("memory", 0x10000);
        MemoryRegion low = Device("low", 0x1000);
        MemoryRegion high = Device("high", 0x100);
        using (space.BeginTransaction())
        {
            space.AddSubregion(space.Root, 0x1000, low, priority: 0);
            space.AddSubregion(space.Root, 0x1400, high, priority: 1);
        }

        IReadOnlyList<FlatRange> ranges = space.View.Ranges;

        Assert.Equal(
            [(0x1000UL, 0x1400UL, "low", 0UL), (0x1400UL, 0x1500UL, "high", 0UL), (0x1500UL, 0x2000UL, "low", 0x500UL)],
            ranges.Select(r => (r.Start, r.End, r.Region.Name, r.RegionOffset)));
    }

    [Fact]
    public void Alias_ShowsItsTargetFromTheAliasOffset()
    {
        AddressSpace space = new("memory", 0x10000);
        MemoryRegion target = Device("bar", 0x1000);
        MemoryRegion alias = MemoryRegion.Alias("window", target, offset: 0x800, size: 0x100);
        using (space.BeginTransaction())
        {
            space.AddSubregion(space.Root, 0x4000, alias);
        }

        bool found = space.View.TryFind(0x4010, out FlatRange range);

        Assert.True(found);
        Assert.Same(target, range.Region);
        Assert.Equal(0x810UL, range.OffsetOf(0x4010));
        Assert.False(space.View.TryFind(0x4100, out _));
    }

    [Fact]
    public void ContainerOffsets_AddUp_AndChildrenAreClippedToTheContainer()
    {
        AddressSpace space = new("memory", 0x10000);
        MemoryRegion container = MemoryRegion.Container("pci", 0x1000);
        MemoryRegion child = Device("bar0", 0x2000); // larger than its container
        using (space.BeginTransaction())
        {
            space.AddSubregion(space.Root, 0x8000, container);
            space.AddSubregion(container, 0x800, child);
        }

        FlatRange only = Assert.Single(space.View.Ranges);

        Assert.Equal((0x8800UL, 0x9000UL), (only.Start, only.End));
    }

    [Fact]
    public void ChangesInsideATransaction_ArePublishedOnlyAtTheOutermostCommit()
    {
        AddressSpace space = new("memory", 0x10000);
        MemoryRegion region = Device("dev", 0x10);
        FlatView before = space.View;
        FlatView duringInner;
        using (space.BeginTransaction())
        {
            using (space.BeginTransaction())
            {
                space.AddSubregion(space.Root, 0x100, region);
            }

            duringInner = space.View;
        }

        Assert.Same(before, duringInner);
        Assert.True(space.View.TryFind(0x100, out _));
    }

    [Fact]
    public void DisabledRegion_IsNotInTheView_AndMoveRelocatesIt()
    {
        AddressSpace space = new("io", 0x10000);
        MemoryRegion region = Device("uart", 8);
        using (space.BeginTransaction())
        {
            space.AddSubregion(space.Root, 0x3F8, region);
        }

        using (space.BeginTransaction())
        {
            space.SetEnabled(region, false);
        }

        bool foundWhileDisabled = space.View.TryFind(0x3F8, out _);
        using (space.BeginTransaction())
        {
            space.SetEnabled(region, true);
            space.Move(region, 0x2F8);
        }

        Assert.False(foundWhileDisabled);
        Assert.False(space.View.TryFind(0x3F8, out _));
        Assert.True(space.View.TryFind(0x2FF, out _));
    }

    [Fact]
    public void ChangeOutsideATransaction_IsRefused()
    {
        AddressSpace space = new("io", 0x10000);

        Assert.Throws<InvalidOperationException>(() => space.AddSubregion(space.Root, 0, Device("x", 1)));
    }
}
