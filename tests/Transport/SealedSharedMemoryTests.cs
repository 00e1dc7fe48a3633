using SplitEmu.DeviceHost.Common;
using SplitEmu.DeviceHost.Hosting;
using SplitEmu.Shared.Rpc;
using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Transport;

/// <summary>Guest RAM shared with device processes: what a device may touch through it, and what it may not.</summary>
public sealed unsafe class SealedSharedMemoryTests
{
    private const ulong Size = 1 << 20;

    [Fact]
    public void TheOpeningSide_CannotResizeGuestMemory()
    {
        using SealedSharedMemory owner = SealedSharedMemory.Create("test-ram", Size);
        using SealedSharedMemory device = SealedSharedMemory.Open(owner.DuplicateDescriptor(), Size);

        Assert.False(device.TryResize(4096), "a device process could shrink guest RAM under the CPU process");
        Assert.False(device.TryResize(Size * 2));
    }

    [Fact]
    public void BothSides_SeeTheSameBytes()
    {
        using SealedSharedMemory owner = SealedSharedMemory.Create("test-ram", Size);
        using GuestMemoryWindow window = new(owner.DuplicateDescriptor(), Size, [new DmaWindow(0, Size)]);

        Assert.True(window.TryWrite(0x1234, [1, 2, 3]));
        Assert.Equal(2, owner.Base[0x1235]);
        owner.Base[0x2000] = 0x5A;
        byte[] read = new byte[1];
        Assert.True(window.TryRead(0x2000, read));
        Assert.Equal(0x5A, read[0]);
    }

    [Theory]
    [InlineData(0x0FFFUL, 1, false)]              // just below the window
    [InlineData(0x1000UL, 0x1000, true)]          // exactly the window
    [InlineData(0x1FFFUL, 2, false)]              // crosses its end
    [InlineData(0x2000UL, 1, false)]              // just past it
    [InlineData(ulong.MaxValue - 1, 4, false)]    // address + length overflows
    [InlineData(Size - 1, 1, false)]              // inside RAM, outside every window
    public void Dma_IsRefusedOutsideTheGrantedWindows(ulong address, int length, bool allowed)
    {
        using SealedSharedMemory owner = SealedSharedMemory.Create("test-ram", Size);
        using GuestMemoryWindow window = new(owner.DuplicateDescriptor(), Size, [new DmaWindow(0x1000, 0x1000)]);
        byte[] data = new byte[length];
        Array.Fill(data, (byte)0xEE);

        Assert.Equal(allowed, window.TryWrite(address, data));
        Assert.Equal(allowed, window.TryRead(address, data));
        if (!allowed && address < Size)
        {
            Assert.NotEqual(0xEE, owner.Base[address]); // nothing was written
        }
    }
}
