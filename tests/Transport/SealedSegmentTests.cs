using SplitEmu.Shared.Transport;
using SplitEmu.Tests.Infrastructure;

namespace SplitEmu.Tests.Transport;

/// <summary>
/// A machine's ring segments are sealed anonymous memory: a hostile device process cannot resize them under the
/// CPU process (whose next touch would be a SIGBUS), and no other user can find, read or pre-create them.
/// </summary>
public sealed class SealedSegmentTests
{
    private static readonly RingGeometry s_geometry = new(8, 8, 8);

    [Fact]
    public void SealedSegment_HasNoNameInDevShm_AndTheDeviceMapsThePassedDescriptor()
    {
        string name = $"splitemu-{Environment.ProcessId}-sealed-{Guid.NewGuid():N}";
        using RingSegment cpuSide = RingSegment.Create(name, s_geometry, epoch: 3);

        using RingSegment deviceSide = RingSegment.Open(cpuSide.Memory.DuplicateDescriptor(), TestDeadlines.Seconds(1));

        Assert.Empty(Directory.EnumerateFiles("/dev/shm", name + "*"));
        Assert.Equal(3u, deviceSide.Epoch);
        Assert.Equal(s_geometry, deviceSide.Geometry);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(4096L)]
    [InlineData(1L << 30)]
    public void DeviceThatResizesItsSegment_IsRefused_AndTheCpuSideStillReadsIt(long newLength)
    {
        using RingSegment cpuSide = RingSegment.Create($"splitemu-test-{Guid.NewGuid():N}", s_geometry, epoch: 1);
        long size = cpuSide.Memory.Size;

        // What a hostile device process does with the descriptor it opened: ftruncate.
        using (FileStream opened = new(new Microsoft.Win32.SafeHandles.SafeFileHandle(cpuSide.Memory.DuplicateDescriptor(), ownsHandle: true), FileAccess.ReadWrite))
        {
            Assert.Throws<UnauthorizedAccessException>(() => opened.SetLength(newLength)); // EPERM: the seals refuse it
            Assert.Equal(size, opened.Length);
        }

        unsafe
        {
            // The last byte is still there: a shrunk file would make this read a SIGBUS.
            Assert.Equal(0, cpuSide.Memory.Base[size - 1]);
        }
    }

    [Fact]
    public void AfterUnlink_TheCpuSideCanPassTheSegmentToNoOne_ButBothMappingsStay()
    {
        using RingSegment cpuSide = RingSegment.Create($"splitemu-test-{Guid.NewGuid():N}", s_geometry, epoch: 1);
        using RingSegment deviceSide = RingSegment.Open(cpuSide.Memory.DuplicateDescriptor(), TestDeadlines.Seconds(1));

        cpuSide.Memory.Unlink();

        Assert.Equal(-1, cpuSide.Memory.Descriptor);
        Assert.Throws<ObjectDisposedException>(() => cpuSide.Memory.DuplicateDescriptor());
        unsafe
        {
            cpuSide.StateArea[0] = 0x5A;
            Assert.Equal(0x5A, deviceSide.StateArea[0]);
        }
    }
}
