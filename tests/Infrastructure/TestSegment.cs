using SplitEmu.Shared.Transport;

namespace SplitEmu.Tests.Infrastructure;

/// <summary>
/// A ring segment mapped twice in this process (the CPU's mapping and the device's), as two processes would
/// map it. The file is removed as soon as both mappings exist, so a failing test leaks nothing.
/// </summary>
public sealed class TestSegment : IDisposable
{
    /// <summary>Creates and opens a segment with <paramref name="geometry"/>.</summary>
    public TestSegment(RingGeometry geometry)
    {
        string path = Path.Combine(SharedMemorySegment.ShmFolder, $"splitemu-{Environment.ProcessId}-test-{Guid.NewGuid():N}");
        CpuSide = RingSegment.Create(path, geometry, epoch: 1);
        try
        {
            DeviceSide = RingSegment.Open(path, TestDeadlines.Seconds(1));
        }
        finally
        {
            CpuSide.Memory.Unlink();
        }
    }

    /// <summary>The creator's mapping.</summary>
    public RingSegment CpuSide { get; }

    /// <summary>The opener's mapping.</summary>
    public RingSegment DeviceSide { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        DeviceSide.Dispose();
        CpuSide.Dispose();
    }
}
